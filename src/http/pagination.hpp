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
#include <utility>

#include "http/json_text.hpp"
#include "http/message.hpp"

namespace atrium::http {

struct PageQuery {
  std::size_t limit = 50;
  // The decoded key, one page_query() checked with the list's KeyCheck; nullopt for the first page.
  std::optional<std::string> after;
};

// Whether `key` can be a sort key of a list (platform::is_uuid for lists ordered by id,
// http::valid_email for members): a cursor whose key cannot is not one the list issued.
using KeyCheck = bool (*)(std::string_view key);

// Reads `limit` and `cursor`; a malformed value, or a cursor whose key fails `valid_key`, → 400
// invalid_request naming the parameter. Every list reads its query here.
Result<PageQuery> page_query(const Request& req, KeyCheck valid_key);

// Whether the raw query string names `name`, decodable or not: Request::query_param answers
// nullopt for both an absent parameter and a malformed one, which a handler must tell apart (400).
bool query_names(std::string_view query, std::string_view name);

std::string make_cursor(std::string_view key);
std::optional<std::string> read_cursor(std::string_view cursor);

// `{"items": items, "next_cursor": …}`.
nlohmann::json page(nlohmann::json items, const std::optional<std::string>& next_key);

// A list route's whole answer: reads the page query (page_query), `fetch(PageQuery)` returns a
// Result of a page with `items` and `next_key`, `to_json(item)` shows one item; 200 with page().
template <class Fetch, class ToJson>
Result<Response> list_response(const Request& req, KeyCheck valid_key, Fetch&& fetch,
                               ToJson&& to_json) {
  auto query = page_query(req, valid_key);
  if (!query) return fail(query.error());
  auto result = fetch(*query);
  if (!result) return fail(result.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : result->items) items.push_back(to_json(item));
  return Response::json(200, page(std::move(items), result->next_key));
}

// 200 with page() of `items`, written as text: `write(JsonText&, item)` writes one item straight
// into the answer (the same bytes as page() of the equivalent to_json; the item's keys in
// nlohmann's order).
template <class Items, class Write>
Response page_text_response(const Items& items, const std::optional<std::string>& next_key,
                            Write&& write) {
  JsonText out;
  out.begin_object();
  out.key("items");
  out.begin_array();
  for (const auto& item : items) write(out, item);
  out.end_array();
  out.key("next_cursor");
  if (next_key)
    out.string(make_cursor(*next_key));
  else
    out.null();
  out.end_object();
  Response response;
  response.headers.set("Content-Type", "application/json");
  response.body = out.take();
  return response;
}

// As list_response, for the lists read on every page view: the page is written by
// page_text_response() with `write(JsonText&, item)`.
template <class Fetch, class Write>
Result<Response> list_text_response(const Request& req, KeyCheck valid_key, Fetch&& fetch,
                                    Write&& write) {
  auto query = page_query(req, valid_key);
  if (!query) return fail(query.error());
  auto result = fetch(*query);
  if (!result) return fail(result.error());
  return page_text_response(result->items, result->next_key, std::forward<Write>(write));
}

}  // namespace atrium::http
