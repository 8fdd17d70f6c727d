// The embedded store: SQLite in WAL mode with foreign keys on.
//
// A bounded pool of connections serves concurrent readers; write transactions are serialised in
// process (and across processes by BEGIN IMMEDIATE plus a busy timeout), so a burst of writers
// queues instead of failing with "database is locked".
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "db/database.hpp"

namespace atrium::db::sqlite {

struct Options {
  std::string path;  // file; its directory is created if missing
  int pool_size = 8;
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds acquire_timeout{5000};  // waiting for a free connection
};

Result<std::unique_ptr<Database>> open(const Options& options);

}  // namespace atrium::db::sqlite
