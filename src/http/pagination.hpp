// Cursor pagination for lists (API.md): `?limit=` 1–100 (default 50) and an opaque `?cursor=`;
// answers are `{"items": [...], "next_cursor": "…" | null}`.
//
// A cursor wraps the sort key of the last item a page returned (for UUIDv7 ids, the id), so a
// store continues with `WHERE id < $key ORDER BY id DESC LIMIT $limit + 1` and knows whether
// there is a next page from the extra row. Clients must treat cursors as opaque.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace atrium::http {

struct PageQuery {
  std::size_t limit = 50;
  std::optional<std::string> after;  // the decoded key; nullopt for the first page
};

// Reads `limit` and `cursor`; a malformed value → 400 invalid_request naming the parameter.
Result<PageQuery> page_query(const Request& req);

// Whether the raw query string names `name`, decodable or not: Request::query_param answers
// nullopt for both an absent parameter and a malformed one, which a handler must tell apart (400).
bool query_names(std::string_view query, std::string_view name);

std::string make_cursor(std::string_view key);
std::optional<std::string> read_cursor(std::string_view cursor);

// `{"items": items, "next_cursor": …}`.
nlohmann::json page(nlohmann::json items, const std::optional<std::string>& next_key);

}  // namespace atrium::http
