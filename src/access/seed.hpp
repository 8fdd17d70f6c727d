// Seeds the permission catalog and the system roles, idempotently (the seed's seed.ts): permissions
// are upserted, system roles created when missing and their permission sets made exactly the
// catalog's. Safe to run at every start and concurrently.
#pragma once

#include "db/database.hpp"

namespace atrium::access {

struct SeedReport {
  int permissions_added = 0;
  int roles_added = 0;
  int grants_changed = 0;
};

Result<SeedReport> seed(db::Database& db);

}  // namespace atrium::access
