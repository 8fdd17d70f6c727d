// Reading request bodies: one JSON object, its fields validated with every problem reported at
// once (API.md: 400 invalid_request with `errors: [{field, message}]`).
//
//   auto body = http::parse_object(req);
//   if (!body) return fail(body.error());
//   http::JsonFields f(*body);
//   auto email = f.email("email");
//   auto name = f.string("name", {.required = false, .max = 200});
//   if (auto done = f.finish(); !done) return fail(done.error());
//
// A field that is absent or null is "missing": an error when required, nullopt otherwise. A field
// the handler did not ask for is an error ("unknown field"), so typos do not pass silently.
// Not thread-safe (one per request).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace atrium::http {

// The body as a JSON object. Empty, malformed (incl. invalid UTF-8) or not an object → 400
// invalid_request. Nesting deeper than 64 levels is refused too.
Result<nlohmann::json> parse_object(const Request& req);

struct StringRule {
  bool required = true;
  std::size_t min = 1;      // characters (Unicode code points), after trimming
  std::size_t max = 1000;   // characters
  bool trim = true;         // strip leading/trailing ASCII whitespace
  bool single_line = true;  // refuse control characters (names, titles); false for free text
};

struct ListRule {
  bool required = true;
  std::size_t max_items = 100;
  std::size_t item_max = 200;  // characters per item
  bool unique = true;          // duplicates are an error
};

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::json& object);

  std::optional<std::string> string(std::string_view name, StringRule rule = {});
  // A valid address (see valid_email), lower-cased; at most 254 characters.
  std::optional<std::string> email(std::string_view name, bool required = true);
  std::optional<std::int64_t> integer(std::string_view name, std::int64_t min, std::int64_t max,
                                      bool required = false);
  std::optional<bool> boolean(std::string_view name, bool required = false);
  std::optional<std::vector<std::string>> strings(std::string_view name, ListRule rule = {});
  // A JSON object whose serialized form is at most `max_bytes`.
  std::optional<nlohmann::json> object(std::string_view name, bool required = false,
                                       std::size_t max_bytes = 64 * 1024);
  // Any JSON value (e.g. a task's input) up to `max_bytes` serialized.
  std::optional<nlohmann::json> any(std::string_view name, bool required = false,
                                    std::size_t max_bytes = 64 * 1024);

  // Records a problem found by the handler's own rules.
  void invalid(std::string field, std::string message);
  // Marks a field as understood without reading it through this class.
  void allow(std::string_view name) { seen_.emplace(name); }

  bool ok() const { return errors_.empty(); }
  // Unknown fields and every problem so far → 400 invalid_request; else success.
  Result<void> finish();

 private:
  const nlohmann::json* find(std::string_view name, bool required);

  const nlohmann::json& object_;
  std::set<std::string, std::less<>> seen_;
  std::vector<FieldError> errors_;
};

// Characters (Unicode code points) in valid UTF-8 text.
std::size_t utf8_length(std::string_view text);

// A pragmatic address check: local@domain, local part 1–64 printable ASCII characters other
// than space and `"(),:;<>[\]`, the domain made of dot-separated labels of letters, digits and
// hyphens with at least one dot, 254 characters at most. Internationalised addresses are refused.
bool valid_email(std::string_view email);

}  // namespace atrium::http
