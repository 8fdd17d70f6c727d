// The database backends every storage and API test runs on, written once (STYLE.md: no copies
// per driver): SQLite always; PostgreSQL direct ("postgres") and through PgBouncer in
// transaction pooling mode ("pgbouncer") when scripts/test-services' environment is present
// (`make test` always provides it). Parameterise a suite with
//
//   INSTANTIATE_TEST_SUITE_P(Backends, MySuite, ValuesIn(atrium::testing::backends()),
//                            atrium::testing::BackendName());
//
// and get a fresh database per test from GetParam().create() (empty) or .create_migrated() (the
// embedded schema; on PostgreSQL a copy of a migrated template, so it is cheap). An API-level
// test runs the modules on TestDatabase::app, as `atrium serve` connects (row-level security
// applies on PostgreSQL), and migrates, seeds and inspects with ::db, the owner (a test's own
// reads across tenants pass `.cross_tenant_read`); src/identity/identity_api_test.cpp does. To run
// the binary on a backend, give it TestDatabase::url and ::migration_url as ATRIUM_DATABASE_URL
// and ATRIUM_DATABASE_MIGRATION_URL.
//
// API-level suites (tests/support/api_harness.hpp) run on api_backends() instead: the same
// databases, the last one in distributed mode ("distributed": PostgreSQL through PgBouncer and
// RabbitMQ, as a deployed `serve` replica) when RabbitMQ is there. CMake gives every test whose
// name ends in "/distributed" the CTest resource lock "rabbitmq" (cmake/AtriumModule.cmake).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace atrium::testing {

// A fresh database for one test; dropped when destroyed.
struct TestDatabase {
  // All rights: on PostgreSQL the role that owns the schema (DDL, migrations, the seed).
  std::unique_ptr<db::Database> db;
  // As the application connects: on PostgreSQL a role that owns nothing and is subject to
  // row-level security (its DDL fails); on SQLite another pool on the same file.
  std::unique_ptr<db::Database> app;
  std::string url;            // the application's URL (ATRIUM_DATABASE_URL)
  std::string migration_url;  // the owner's URL (ATRIUM_DATABASE_MIGRATION_URL)
  std::function<void()> cleanup;

  ~TestDatabase() {
    app.reset();
    db.reset();
    if (cleanup) cleanup();
  }
  db::Database& operator*() { return *db; }
  db::Database* operator->() { return db.get(); }
};

struct Backend {
  std::string name;  // "sqlite", "postgres", "pgbouncer", "distributed": a valid gtest name
  bool row_level_security = false;  // tenant tables guarded by the database itself
  std::function<std::unique_ptr<TestDatabase>()> create;           // empty; throws on failure
  std::function<std::unique_ptr<TestDatabase>()> create_migrated;  // schema applied
  // Empty: the in-process broker (embedded mode). Otherwise the amqp:// URL of the RabbitMQ that
  // carries tasks and events (distributed mode; each test then names its own queues).
  std::string broker_url;
};

std::vector<Backend> backends();
// Only the backends with row-level security (PostgreSQL): for tests of that wall. Empty without
// the services, so suites using it declare GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST.
std::vector<Backend> rls_backends();
// For API-level suites: SQLite and PostgreSQL direct (embedded broker), then PgBouncer — in
// distributed mode (RabbitMQ) when ATRIUM_TEST_RABBITMQ is set. The PgBouncer database with the
// embedded broker adds nothing the other two and the distributed instance do not cover.
std::vector<Backend> api_backends();

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
