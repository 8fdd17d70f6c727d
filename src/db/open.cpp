#include "db/open.hpp"

#include "db/sqlite/sqlite_database.hpp"

namespace atrium::db {

Result<std::unique_ptr<Database>> open(std::string_view url, const OpenOptions& options) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    sqlite::Options o;
    o.path = std::string(url.substr(kSqlite.size()));
    o.pool_size = options.pool_size;
    return sqlite::open(o);
  }
  return fail(Error::invalid("unsupported database URL scheme"));
}

}  // namespace atrium::db
