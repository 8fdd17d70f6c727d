#include "db/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::db {

namespace sqlite_schema {
extern const std::vector<MigrationSource> kMigrations;
}
namespace postgres_schema {
extern const std::vector<MigrationSource> kMigrations;
}

std::span<const MigrationSource> embedded_migrations(std::string_view dialect) {
  if (dialect == "sqlite") return sqlite_schema::kMigrations;
  if (dialect == "postgresql") return postgres_schema::kMigrations;
  return {};
}

namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)";

struct Parsed {
  std::int64_t version;
  const MigrationSource* source;
};

Result<std::vector<Parsed>> parse(std::span<const MigrationSource> migrations) {
  std::vector<Parsed> out;
  for (const auto& m : migrations) {
    std::int64_t version = 0;
    auto [ptr, ec] = std::from_chars(m.name.data(), m.name.data() + m.name.size(), version);
    if (ec != std::errc{} || ptr == m.name.data() || *ptr != '_' || version <= 0) {
      log::error("migration name must be NNNN_name.sql", {{"name", m.name}});
      return fail(Error::internal());
    }
    out.push_back({version, &m});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      log::error("two migrations share a version", {{"name", out[i].source->name}});
      return fail(Error::internal());
    }
  }
  return out;
}

// True when every migration is applied, with the same text. migrate() then writes nothing, so
// a role without DDL rights (the application's, on PostgreSQL) may run it at start-up.
Result<bool> up_to_date(Database& db, const std::vector<Parsed>& ordered) {
  return db.transact({.read_only = true}, [&](Tx& tx) -> Result<bool> {
    // Probe the catalog first: querying a missing table would log an error on every first start.
    auto exists = tx.query_one(db.dialect() == "postgresql"
                                   ? "SELECT to_regclass('schema_migrations') IS NOT NULL"
                                   : "SELECT COUNT(*) > 0 FROM sqlite_master"
                                     " WHERE type = 'table' AND name = 'schema_migrations'");
    if (!exists) return fail(exists.error());
    if (!*exists || !(*exists)->boolean(0)) return false;
    auto rows = tx.query("SELECT version, checksum FROM schema_migrations");
    if (!rows) return fail(rows.error());
    std::map<std::int64_t, std::string> applied;
    for (const auto& row : *rows) applied[row.integer(0)] = row.text(1);
    for (const auto& m : ordered) {
      auto it = applied.find(m.version);
      if (it == applied.end() || it->second != hash_token(m.source->sql)) return false;
    }
    return true;
  });
}

}  // namespace

Result<std::vector<std::string>> migrate(Database& db,
                                         std::span<const MigrationSource> migrations) {
  auto ordered = parse(migrations);
  if (!ordered) return fail(ordered.error());
  auto current = up_to_date(db, *ordered);
  if (!current) return fail(current.error());
  if (*current) return std::vector<std::string>();

  auto created = db.transact({}, [&](Tx& tx) -> Result<void> {
    if (auto lock = db.lock_for_migration(tx); !lock) return lock;
    auto r = tx.execute(kCreateTable);
    if (!r) return fail(r.error());
    return {};
  });
  if (!created) return fail(created.error());

  std::vector<std::string> applied;
  for (const auto& m : *ordered) {
    const std::string checksum = hash_token(m.source->sql);
    const std::string name(m.source->name);
    auto step = db.transact({}, [&](Tx& tx) -> Result<bool> {
      if (auto lock = db.lock_for_migration(tx); !lock) return fail(lock.error());
      auto existing =
          tx.query_one("SELECT checksum FROM schema_migrations WHERE version = $1", {m.version});
      if (!existing) return fail(existing.error());
      if (*existing) {
        if ((*existing)->text(0) != checksum) {
          return fail(
              Error::conflict("migration " + name +
                              " was changed after it was applied; add a new migration instead"));
        }
        return false;
      }
      if (auto r = tx.execute_script(m.source->sql); !r) return fail(r.error());
      auto r = tx.execute(
          "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, "
          "$4)",
          {m.version, name, checksum, format_time(std::chrono::system_clock::now())});
      if (!r) return fail(r.error());
      return true;
    });
    if (!step) {
      log::error("migration failed", {{"migration", name}, {"detail", step.error().detail}});
      return fail(step.error());
    }
    if (*step) {
      log::info("migration applied", {{"migration", name}});
      applied.push_back(name);
    }
  }
  return applied;
}

Result<std::vector<std::string>> migrate(Database& db) {
  return migrate(db, embedded_migrations(db.dialect()));
}

}  // namespace atrium::db
