// Versioned schema migrations, applied in order, each exactly once.
//
// A migration is a file "NNNN_name.sql" under migrations/<dialect>/, compiled into the binary.
// Each is applied in its own transaction together with its row in `schema_migrations`, so a
// failing migration leaves the database at the previous version and a re-run resumes there. An
// applied migration whose text has changed is refused (edit by adding a new migration).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"

namespace atrium::db {

struct MigrationSource {
  std::string_view name;  // "0001_init.sql"
  std::string_view sql;
};

// The migrations compiled in for a dialect ("sqlite", "postgresql").
std::span<const MigrationSource> embedded_migrations(std::string_view dialect);

// Applies the pending migrations; returns the names applied now (empty when up to date). When
// nothing is pending it only reads, so the application's role may call it without DDL rights.
Result<std::vector<std::string>> migrate(Database& db, std::span<const MigrationSource> migrations);

// The same with the embedded migrations for db's dialect.
Result<std::vector<std::string>> migrate(Database& db);

}  // namespace atrium::db
