#include "support/backends.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "db/migrations.hpp"
#include "db/open.hpp"
#include "db/postgres/postgres_database.hpp"
#include "platform/ids.hpp"
#include "support/temp_dir.hpp"

namespace atrium::testing {
namespace {

// The roles scripts/test-services creates.
constexpr const char* kSuperuser = "postgres";
constexpr const char* kOwner = "atrium_owner";
constexpr const char* kApp = "atrium";
// Serialises template creation across the test processes (a session-level advisory lock).
constexpr const char* kTemplateLock = "SELECT pg_advisory_lock(7310000000000000001)";
constexpr const char* kTemplateUnlock = "SELECT pg_advisory_unlock(7310000000000000001)";

template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().detail);
  return std::move(*r);
}

std::unique_ptr<TestDatabase> sqlite_database(bool migrated) {
  auto dir = std::make_shared<TempDir>();
  auto t = std::make_unique<TestDatabase>();
  t->url = "sqlite://" + (dir->path() / "test.db").string();
  t->migration_url = t->url;
  t->db = must(db::open(t->url), "cannot open sqlite");
  if (migrated) must(db::migrate(*t->db), "cannot migrate sqlite");
  t->app = must(db::open(t->url), "cannot open sqlite");
  t->cleanup = [dir] {};
  return t;
}

std::string pg_url(const std::string& user, const std::string& hostport, const std::string& db) {
  return "postgresql://" + user + "@" + hostport + "/" + db;
}

// A database with the embedded schema, named for the migrations' text so that a changed
// migration gets a new one. Made once per cluster; every migrated test database copies it.
std::string migrated_template(const std::string& server) {
  std::string text;
  for (const auto& m : db::embedded_migrations("postgresql")) {
    text.append(m.name);
    text.append(m.sql);
  }
  const std::string name = "atrium_tpl_" + hash_token(text).substr(0, 16);
  auto admin = must(db::postgres::AdminSession::connect(pg_url(kSuperuser, server, "postgres")),
                    "cannot reach PostgreSQL");
  must(admin.run(kTemplateLock), "template lock");
  auto exists = must(admin.run("SELECT 1 FROM pg_database WHERE datname = " + admin.literal(name)),
                     "template lookup");
  if (exists.empty()) {
    const std::string building = name + "_building";
    must(admin.run("DROP DATABASE IF EXISTS " + admin.identifier(building)), "template cleanup");
    must(admin.run("CREATE DATABASE " + admin.identifier(building) + " OWNER " + kOwner),
         "template create");
    {
      auto owner = must(
          db::open(pg_url(kOwner, server, building), {.pool_size = 1, .statement_timeout = {}}),
          "template open");
      must(db::migrate(*owner), "template migrate");
    }
    must(admin.run("ALTER DATABASE " + admin.identifier(building) + " RENAME TO " +
                   admin.identifier(name)),
         "template publish");
  }
  must(admin.run(kTemplateUnlock), "template unlock");
  return name;
}

std::string unique_database_name() {
  static std::atomic<int> counter{0};
  return "atrium_t_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
         random_token(6).substr(0, 6);
}

// `server` is PostgreSQL itself (databases are made and dropped there, as the superuser);
// `entry` is where the test connects: the same server, or PgBouncer in front of it.
std::unique_ptr<TestDatabase> pg_database(const std::string& server, const std::string& entry,
                                          bool migrated) {
  const std::string admin_url = pg_url(kSuperuser, server, "postgres");
  const std::string source = migrated ? migrated_template(server) : "template1";
  std::string name = unique_database_name();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  {
    auto admin = must(db::postgres::AdminSession::connect(admin_url), "cannot reach PostgreSQL");
    must(admin.run("CREATE DATABASE " + admin.identifier(name) + " OWNER " + kOwner + " TEMPLATE " +
                   admin.identifier(source) + " STRATEGY FILE_COPY"),
         "cannot create a test database");
  }
  auto t = std::make_unique<TestDatabase>();
  t->cleanup = [admin_url, name] {
    auto admin = db::postgres::AdminSession::connect(admin_url);
    if (admin)
      (void)admin->run("DROP DATABASE IF EXISTS " + admin->identifier(name) + " WITH (FORCE)");
  };
  t->url = pg_url(kApp, entry, name);
  t->migration_url = pg_url(kOwner, entry, name);
  t->db = must(db::open(t->migration_url), "cannot open " + name + " as the owner");
  t->app = must(db::open(t->url), "cannot open " + name + " as the application");
  return t;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::vector<Backend> backends() {
  std::vector<Backend> out;
  out.push_back({"sqlite", false, [] { return sqlite_database(false); },
                 [] { return sqlite_database(true); }});
  const std::string server = env("ATRIUM_TEST_POSTGRES");
  if (!server.empty()) {
    out.push_back({"postgres", true, [server] { return pg_database(server, server, false); },
                   [server] { return pg_database(server, server, true); }});
    const std::string bouncer = env("ATRIUM_TEST_PGBOUNCER");
    if (!bouncer.empty()) {
      out.push_back({"pgbouncer", true,
                     [server, bouncer] { return pg_database(server, bouncer, false); },
                     [server, bouncer] { return pg_database(server, bouncer, true); }});
    }
  }
  return out;
}

std::vector<Backend> api_backends() {
  auto out = backends();
  const std::string rabbitmq = env("ATRIUM_TEST_RABBITMQ");
  if (!rabbitmq.empty() && !out.empty() && out.back().name == "pgbouncer") {
    out.back().name = "distributed";
    out.back().broker_url = rabbitmq;
  }
  return out;
}

std::vector<Backend> rls_backends() {
  std::vector<Backend> out;
  for (auto& b : backends())
    if (b.row_level_security) out.push_back(std::move(b));
  return out;
}

}  // namespace atrium::testing
