// Secrets generated once under the data directory (development only: production takes its keys
// from the environment). A generated secret must survive a crash and be the same for every process
// that starts on the data directory at once — `serve` and `worker` side by side, or two `serve`s —
// because what it encrypts or signs outlives the process that made it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "platform/error.hpp"

namespace atrium {

// The contents of a secret file (an ATRIUM_*_FILE setting or a generated secret) without its
// trailing newline; nullopt when it cannot be read.
std::optional<std::string> read_secret_file(const std::filesystem::path& path);

// Returns the secret stored at `path` (without its trailing newline). If there is none, stores
// `make()` there — owner-only (0600), flushed to disk with its directory entry before it is used —
// and returns it; if another process stored one first, returns that one instead. Never replaces an
// existing file. Errors: kInvalidRequest naming the path when it cannot be written.
Result<std::string> load_or_create_secret(const std::filesystem::path& path,
                                          const std::function<std::string()>& make);

}  // namespace atrium
