// Reading an organization's secrets (org_secrets, sealed with platform/secret_box.hpp) for the
// executors, e.g. `llm_api_key` for the openai executor.
#pragma once

#include <string>

#include "db/database.hpp"
#include "tasks/worker.hpp"

namespace atrium::tasks {

// A SecretReader over the database: nullopt when the organization has no such secret; kInternal
// (logged) when a stored secret does not open with `data_key` (tampered, or the data key changed);
// the database's kUnavailable. `db` must outlive the reader.
SecretReader org_secret_reader(db::Database& db, std::string data_key);

}  // namespace atrium::tasks
