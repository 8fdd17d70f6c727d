#include "db/migrations.hpp"

#include <algorithm>
#include <charconv>

#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::db {

namespace sqlite_schema {
extern const std::vector<MigrationSource> kMigrations;
}

std::span<const MigrationSource> embedded_migrations(std::string_view dialect) {
  if (dialect == "sqlite") return sqlite_schema::kMigrations;
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

}  // namespace

Result<std::vector<std::string>> migrate(Database& db,
                                         std::span<const MigrationSource> migrations) {
  auto ordered = parse(migrations);
  if (!ordered) return fail(ordered.error());

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
