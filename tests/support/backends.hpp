// The database backends every storage and API test runs on, written once (STYLE.md: no copies
// per driver). SQLite always; a backend added by another driver's issue joins by registering here
// (e.g. PostgreSQL direct and through PgBouncer, from scripts/test-services' environment).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace atrium::testing {

// A fresh, empty database for one test; dropped when destroyed.
struct TestDatabase {
  std::unique_ptr<db::Database> db;
  std::function<void()> cleanup;

  ~TestDatabase() {
    db.reset();
    if (cleanup) cleanup();
  }
  db::Database& operator*() { return *db; }
  db::Database* operator->() { return db.get(); }
};

struct Backend {
  std::string name;  // "sqlite", "postgres", "pgbouncer": a valid gtest name
  std::function<std::unique_ptr<TestDatabase>()> create;
};

std::vector<Backend> backends();

inline std::string backend_name(const Backend& b) { return b.name; }
inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

// For INSTANTIATE_TEST_SUITE_P(..., ValuesIn(backends()), BackendName()).
struct BackendName {
  template <class Info>
  std::string operator()(const Info& info) const {
    return info.param.name;
  }
};

}  // namespace atrium::testing
