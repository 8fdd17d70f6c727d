// Serves the console's built files from a directory (ATRIUM_WEB_ROOT).
//
// Never leaves the root: the decoded path may not contain "..", ".", backslashes or NUL, and the
// resolved file (symlinks followed) must lie inside the canonical root. Unknown paths fall back to
// index.html so the console's client-side routes load (except under /assets/, whose files are
// content-hashed: a missing one is a 404, not HTML). Thread-safe.
#pragma once

#include <filesystem>
#include <optional>

#include "http/message.hpp"

namespace atrium::http {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root);

  // GET/HEAD of a non-API path: the file, index.html, 304, or an Error (not_found).
  Result<Response> serve(const Request& req) const;

  static std::string_view content_type(const std::filesystem::path& file);

 private:
  Result<Response> send_file(const Request& req, const std::filesystem::path& file,
                             bool immutable) const;
  std::filesystem::path root_;  // canonical; empty when the directory does not exist
};

}  // namespace atrium::http
