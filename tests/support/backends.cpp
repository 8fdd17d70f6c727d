#include "support/backends.hpp"

#include <gtest/gtest.h>

#include "db/sqlite/sqlite_database.hpp"
#include "support/temp_dir.hpp"

namespace atrium::testing {

std::vector<Backend> backends() {
  std::vector<Backend> out;
  out.push_back({"sqlite", [] {
                   auto dir = std::make_shared<TempDir>();
                   auto t = std::make_unique<TestDatabase>();
                   auto db = db::sqlite::open({.path = (dir->path() / "test.db").string()});
                   if (!db) throw std::runtime_error("cannot open sqlite: " + db.error().detail);
                   t->db = std::move(*db);
                   t->cleanup = [dir] {};
                   return t;
                 }});
  return out;
}

}  // namespace atrium::testing
