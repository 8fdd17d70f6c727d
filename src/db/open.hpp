// Opens the database named by a URL (ATRIUM_DATABASE_URL): sqlite://PATH for the embedded store,
// postgresql://… or postgres://… (a libpq URI) for PostgreSQL, directly or through PgBouncer.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "db/database.hpp"

namespace atrium::db {

struct OpenOptions {
  int pool_size = 16;
  // PostgreSQL: the per-statement limit enforced by the server; 0 = none (migrations).
  std::chrono::milliseconds statement_timeout{10000};
};

// Errors: kInvalidRequest for an unknown scheme or a malformed URL; kUnavailable when the
// database cannot be reached (it is probed once).
Result<std::unique_ptr<Database>> open(std::string_view url, const OpenOptions& options = {});

}  // namespace atrium::db
