#include "http/pagination.hpp"

#include <charconv>

#include "platform/base64url.hpp"

namespace atrium::http {
namespace {

constexpr std::string_view kCursorPrefix = "c1:";
constexpr std::size_t kMaxKey = 256;
constexpr std::size_t kMaxLimit = 100;

}  // namespace

bool query_names(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == name) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

std::string make_cursor(std::string_view key) {
  std::string raw(kCursorPrefix);
  raw += key;
  return base64url_encode(raw);
}

std::optional<std::string> read_cursor(std::string_view cursor) {
  if (cursor.empty() || cursor.size() > base64url_encoded_size(kCursorPrefix.size() + kMaxKey))
    return std::nullopt;
  auto raw = base64url_decode(cursor);
  if (!raw || !raw->starts_with(kCursorPrefix) || raw->size() == kCursorPrefix.size())
    return std::nullopt;
  std::string key = raw->substr(kCursorPrefix.size());
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  }
  return key;
}

Result<PageQuery> page_query(const Request& req, KeyCheck valid_key) {
  PageQuery q;
  if (query_names(req.query, "limit") && !req.query_param("limit"))
    return fail(Error::field("limit", "must be an integer from 1 to 100"));
  if (query_names(req.query, "cursor") && !req.query_param("cursor"))
    return fail(Error::field("cursor", "is not a cursor this server issued"));
  if (auto limit = req.query_param("limit")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (limit->empty() || ec != std::errc{} || ptr != limit->data() + limit->size() || n < 1 ||
        n > kMaxLimit)
      return fail(Error::field("limit", "must be an integer from 1 to 100"));
    q.limit = n;
  }
  if (auto cursor = req.query_param("cursor")) {
    auto key = read_cursor(*cursor);
    if (!key || !valid_key(*key))
      return fail(Error::field("cursor", "is not a cursor this server issued"));
    q.after = std::move(*key);
  }
  return q;
}

nlohmann::json page(nlohmann::json items, const std::optional<std::string>& next_key) {
  return {
      {"items", std::move(items)},
      {"next_cursor", next_key ? nlohmann::json(make_cursor(*next_key)) : nlohmann::json(nullptr)}};
}

}  // namespace atrium::http
