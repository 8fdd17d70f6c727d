// Opens the database named by a URL (ATRIUM_DATABASE_URL): sqlite://PATH, or postgresql://… once
// that driver is built in.
#pragma once

#include <memory>
#include <string_view>

#include "db/database.hpp"

namespace atrium::db {

struct OpenOptions {
  int pool_size = 16;
};

Result<std::unique_ptr<Database>> open(std::string_view url, const OpenOptions& options = {});

}  // namespace atrium::db
