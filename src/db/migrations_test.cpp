#include "db/migrations.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "support/backends.hpp"

namespace atrium::db {
namespace {

using atrium::testing::Backend;

const MigrationSource kFirst{"0001_a.sql", "CREATE TABLE a (id TEXT PRIMARY KEY);"};
const MigrationSource kSecond{"0002_b.sql",
                              "CREATE TABLE b (id TEXT PRIMARY KEY);"
                              "INSERT INTO b (id) VALUES ('seeded');"};
const MigrationSource kBroken{"0003_c.sql",
                              "CREATE TABLE c (id TEXT PRIMARY KEY);"
                              "INSERT INTO no_such_table VALUES (1);"};
const MigrationSource kFixed{"0003_c.sql", "CREATE TABLE c (id TEXT PRIMARY KEY);"};

class Migrations : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { t_ = GetParam().create(); }
  Database& db() { return *t_->db; }

  bool table_exists(const std::string& name) {
    auto r = db().transact({.read_only = true},
                           [&](Tx& tx) { return tx.query("SELECT COUNT(*) FROM " + name); });
    return r.has_value();
  }
  std::int64_t versions() {
    auto r = db().transact({.read_only = true}, [](Tx& tx) {
      return tx.query_one("SELECT COUNT(*) FROM schema_migrations");
    });
    return r && *r ? (*r)->integer(0) : -1;
  }

  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(Migrations, FreshDatabaseAppliesAllInOrder) {
  std::vector<MigrationSource> list{kSecond, kFirst};  // given out of order
  auto r = migrate(db(), list);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, (std::vector<std::string>{"0001_a.sql", "0002_b.sql"}));
  EXPECT_TRUE(table_exists("a"));
  EXPECT_TRUE(table_exists("b"));
  EXPECT_EQ(versions(), 2);
}

TEST_P(Migrations, RerunAppliesNothing) {
  std::vector<MigrationSource> list{kFirst, kSecond};
  ASSERT_TRUE(migrate(db(), list));
  auto again = migrate(db(), list);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto rows =
      db().transact({.read_only = true}, [](Tx& tx) { return tx.query("SELECT id FROM b"); });
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 1u);  // the data step did not run twice
}

TEST_P(Migrations, PartialFailureStopsAtTheLastGoodVersionAndResumes) {
  std::vector<MigrationSource> broken{kFirst, kSecond, kBroken};
  auto r = migrate(db(), broken);
  ASSERT_FALSE(r);
  EXPECT_EQ(versions(), 2);
  EXPECT_FALSE(table_exists("c"));  // the failing migration left nothing behind

  std::vector<MigrationSource> fixed{kFirst, kSecond, kFixed};
  auto resumed = migrate(db(), fixed);
  ASSERT_TRUE(resumed) << resumed.error().detail;
  EXPECT_EQ(*resumed, std::vector<std::string>{"0003_c.sql"});
  EXPECT_TRUE(table_exists("c"));
}

TEST_P(Migrations, EditedMigrationIsRefused) {
  std::vector<MigrationSource> list{kFirst};
  ASSERT_TRUE(migrate(db(), list));
  std::vector<MigrationSource> edited{{"0001_a.sql", "CREATE TABLE a (id TEXT, other TEXT);"}};
  auto r = migrate(db(), edited);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
}

TEST_P(Migrations, BadNamesAreRefused) {
  std::vector<MigrationSource> list{{"init.sql", "SELECT 1"}};
  EXPECT_FALSE(migrate(db(), list));
  std::vector<MigrationSource> dup{kFirst, {"0001_again.sql", "SELECT 1"}};
  EXPECT_FALSE(migrate(db(), dup));
}

TEST_P(Migrations, EmbeddedSchemaAppliesCleanly) {
  auto r = migrate(db());
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_FALSE(r->empty());
  for (const char* table : {"organizations", "users", "roles", "permissions", "role_permissions",
                            "user_organization_roles", "refresh_tokens", "api_keys", "invitations",
                            "agents", "tasks", "outbox", "audit_log", "org_secrets"}) {
    EXPECT_TRUE(table_exists(table)) << table;
  }
  auto again = migrate(db());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, Migrations, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

// The stores' SQL is written once: a migration for one engine needs its twin for the other.
TEST(EmbeddedMigrations, EveryDialectHasTheSameMigrations) {
  std::vector<std::string> sqlite, postgres;
  for (const auto& m : embedded_migrations("sqlite")) sqlite.emplace_back(m.name);
  for (const auto& m : embedded_migrations("postgresql")) postgres.emplace_back(m.name);
  EXPECT_FALSE(sqlite.empty());
  EXPECT_EQ(sqlite, postgres);
}

// The files themselves: every migration in migrations/sqlite has a twin with the same version in
// migrations/postgres and the other way round, and every file is compiled in (src/CMakeLists.txt),
// so a migration added to one directory only, or not listed, fails here.
TEST(MigrationFiles, BothDirectoriesHoldTheSameVersionsAllEmbedded) {
  auto files_in = [](const std::string& dialect) {
    std::set<std::string> names;
    const std::filesystem::path dir =
        std::filesystem::path(ATRIUM_SOURCE_DIR) / "migrations" / dialect;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.path().extension() == ".sql") names.insert(entry.path().filename().string());
    return names;
  };
  auto versions = [](const std::set<std::string>& names) {
    std::set<std::string> out;
    for (const auto& n : names) out.insert(n.substr(0, n.find('_')));
    return out;
  };
  auto embedded = [](std::string_view dialect) {
    std::set<std::string> names;
    for (const auto& m : embedded_migrations(dialect)) names.emplace(m.name);
    return names;
  };
  const auto sqlite = files_in("sqlite"), postgres = files_in("postgres");
  EXPECT_FALSE(sqlite.empty());
  EXPECT_EQ(versions(sqlite), versions(postgres));
  EXPECT_EQ(sqlite, embedded("sqlite"));
  EXPECT_EQ(postgres, embedded("postgresql"));
}

// Every table and column of one engine's schema exists in the other's.
TEST(EmbeddedMigrations, EveryDialectHasTheSameColumns) {
  std::map<std::string, std::set<std::string>> columns;  // backend → "table.column"
  for (const auto& backend : atrium::testing::backends()) {
    if (backend.name == "pgbouncer") continue;  // the same server as "postgres"
    auto t = backend.create_migrated();
    auto rows = t->db->transact({.read_only = true}, [&](Tx& tx) {
      return tx.query(backend.name == "sqlite"
                          ? "SELECT m.name, p.name FROM sqlite_master m"
                            " JOIN pragma_table_info(m.name) p"
                            " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
                          : "SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema = 'public'");
    });
    ASSERT_TRUE(rows) << backend.name << ": " << rows.error().detail;
    for (const auto& row : *rows) columns[backend.name].insert(row.text(0) + "." + row.text(1));
  }
  if (columns.size() < 2) GTEST_SKIP() << "PostgreSQL test services not started";
  EXPECT_EQ(columns["sqlite"], columns["postgres"]);
}

}  // namespace
}  // namespace atrium::db
