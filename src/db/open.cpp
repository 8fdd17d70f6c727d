#include "db/open.hpp"

#include "db/postgres/postgres_database.hpp"
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
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    postgres::Options o;
    o.url = std::string(url);
    o.pool_size = options.pool_size;
    o.statement_timeout = options.statement_timeout;
    return postgres::open(o);
  }
  return fail(Error::invalid("unsupported database URL scheme"));
}

}  // namespace atrium::db
