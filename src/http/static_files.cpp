#include "http/static_files.hpp"

#include <fstream>
#include <sstream>

namespace atrium::http {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxFileBytes = 64u << 20;

// Relative path from the request path, or nullopt when it is not a plain path inside the root.
std::optional<fs::path> safe_relative(std::string_view raw) {
  auto decoded = percent_decode(raw);
  if (!decoded || decoded->empty() || decoded->front() != '/') return std::nullopt;
  if (decoded->find('\\') != std::string::npos) return std::nullopt;
  fs::path rel;
  std::string_view rest(*decoded);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == ".." || seg == ".") return std::nullopt;
    if (!seg.empty()) rel /= std::string(seg);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  return rel;
}

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.native();
  auto s = p.native();
  return s.size() > r.size() && s.compare(0, r.size(), r) == 0 && s[r.size()] == '/';
}

}  // namespace

StaticFiles::StaticFiles(fs::path root) {
  std::error_code ec;
  auto canonical = fs::canonical(root, ec);
  if (!ec && fs::is_directory(canonical, ec)) root_ = canonical;
}

std::string_view StaticFiles::content_type(const fs::path& file) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  const std::string ext = file.extension().string();
  for (const auto& [e, type] : kTypes)
    if (ext == e) return type;
  return "application/octet-stream";
}

Result<Response> StaticFiles::serve(const Request& req) const {
  if (root_.empty()) return fail(Error::not_found("the console is not built (run make run)"));
  auto rel = safe_relative(req.path);
  if (!rel) return fail(Error::not_found());

  std::error_code ec;
  if (!rel->empty()) {
    auto candidate = fs::canonical(root_ / *rel, ec);
    if (!ec) {
      if (!inside(root_, candidate)) return fail(Error::not_found());
      if (fs::is_regular_file(candidate, ec)) {
        bool hashed = req.path.starts_with("/assets/");
        return send_file(req, candidate, hashed);
      }
    }
    if (req.path.starts_with("/assets/")) return fail(Error::not_found());
  }
  return send_file(req, root_ / "index.html", false);
}

Result<Response> StaticFiles::send_file(const Request& req, const fs::path& file,
                                        bool immutable) const {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec || size > kMaxFileBytes) return fail(Error::not_found());
  auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
  std::string etag = "W/\"" + std::to_string(size) + "-" + std::to_string(mtime) + "\"";

  Response res;
  res.headers.set("ETag", etag);
  res.headers.set("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (auto inm = req.headers.get("If-None-Match"); inm && *inm == etag) {
    res.status = 304;
    return res;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Error::not_found());
  std::ostringstream body;
  body << in.rdbuf();
  res.status = 200;
  res.headers.set("Content-Type", std::string(content_type(file)));
  res.body = std::move(body).str();
  return res;
}

}  // namespace atrium::http
