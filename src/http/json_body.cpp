#include "http/json_body.hpp"

#include <algorithm>
#include <cctype>

namespace atrium::http {
namespace {

constexpr std::size_t kMaxDepth = 64;

std::string_view trim_ascii(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string type_name(const nlohmann::json& v) {
  if (v.is_string()) return "a string";
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

std::string size_text(std::size_t n) { return std::to_string(n); }

}  // namespace

Result<nlohmann::json> parse_object(const Request& req) {
  if (trim_ascii(req.body).empty())
    return fail(Error::invalid("request body must be a JSON object"));
  std::size_t depth = 0;
  bool too_deep = false;
  // The callback sees every nesting step first, so a deeply nested body is refused before it
  // costs more than a scan.
  auto guard = [&](int d, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if (event == nlohmann::json::parse_event_t::object_start ||
        event == nlohmann::json::parse_event_t::array_start) {
      depth = static_cast<std::size_t>(d) + 1;
      if (depth > kMaxDepth) too_deep = true;
    }
    return !too_deep;
  };
  nlohmann::json parsed = nlohmann::json::parse(req.body, guard, false);
  if (too_deep) return fail(Error::invalid("request body is nested too deeply"));
  if (parsed.is_discarded()) return fail(Error::invalid("request body is not valid JSON"));
  if (!parsed.is_object()) return fail(Error::invalid("request body must be a JSON object"));
  return parsed;
}

JsonFields::JsonFields(const nlohmann::json& object) : object_(object) {}

const nlohmann::json* JsonFields::find(std::string_view name, bool required) {
  seen_.emplace(name);
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    if (required) invalid(std::string(name), "is required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> JsonFields::string(std::string_view name, StringRule rule) {
  const auto* v = find(name, rule.required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    invalid(std::string(name), "must be a string, not " + type_name(*v));
    return std::nullopt;
  }
  std::string_view text = v->get_ref<const std::string&>();
  if (rule.trim) text = trim_ascii(text);
  const std::size_t length = utf8_length(text);
  if (length < rule.min) {
    invalid(std::string(name), rule.min <= 1
                                   ? "must not be empty"
                                   : "must be at least " + size_text(rule.min) + " characters");
    return std::nullopt;
  }
  if (length > rule.max) {
    invalid(std::string(name), "must be at most " + size_text(rule.max) + " characters");
    return std::nullopt;
  }
  if (rule.single_line && has_control(text)) {
    invalid(std::string(name), "must not contain control characters");
    return std::nullopt;
  }
  return std::string(text);
}

std::optional<std::string> JsonFields::email(std::string_view name, bool required) {
  auto text = string(name, {.required = required, .min = 1, .max = 254});
  if (!text) return std::nullopt;
  if (!valid_email(*text)) {
    invalid(std::string(name), "must be a valid email address");
    return std::nullopt;
  }
  std::transform(text->begin(), text->end(), text->begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<std::int64_t> JsonFields::integer(std::string_view name, std::int64_t min,
                                                std::int64_t max, bool required) {
  const auto* v = find(name, required);
  if (!v) return std::nullopt;
  const bool integral =
      v->is_number_integer() &&
      !(v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX));
  if (!integral) {
    invalid(std::string(name), "must be an integer");
    return std::nullopt;
  }
  const auto value = v->get<std::int64_t>();
  if (value < min || value > max) {
    invalid(std::string(name),
            "must be from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> JsonFields::boolean(std::string_view name, bool required) {
  const auto* v = find(name, required);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    invalid(std::string(name), "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::vector<std::string>> JsonFields::strings(std::string_view name, ListRule rule) {
  const auto* v = find(name, rule.required);
  if (!v) return std::nullopt;
  if (!v->is_array()) {
    invalid(std::string(name), "must be an array of strings");
    return std::nullopt;
  }
  if (v->size() > rule.max_items) {
    invalid(std::string(name), "must have at most " + size_text(rule.max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(v->size());
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      invalid(field, "must be a string");
      return std::nullopt;
    }
    const auto& text = item.get_ref<const std::string&>();
    if (text.empty() || utf8_length(text) > rule.item_max || has_control(text)) {
      invalid(field, "must be 1 to " + size_text(rule.item_max) + " printable characters");
      return std::nullopt;
    }
    if (rule.unique && std::find(out.begin(), out.end(), text) != out.end()) {
      invalid(field, "is a duplicate");
      return std::nullopt;
    }
    out.push_back(text);
  }
  return out;
}

std::optional<nlohmann::json> JsonFields::object(std::string_view name, bool required,
                                                 std::size_t max_bytes) {
  const auto* v = find(name, required);
  if (!v) return std::nullopt;
  if (!v->is_object()) {
    invalid(std::string(name), "must be an object");
    return std::nullopt;
  }
  return any(name, required, max_bytes);
}

std::optional<nlohmann::json> JsonFields::any(std::string_view name, bool required,
                                              std::size_t max_bytes) {
  const auto* v = find(name, required);
  if (!v) return std::nullopt;
  if (v->dump().size() > max_bytes) {
    invalid(std::string(name), "must be at most " + size_text(max_bytes) + " bytes");
    return std::nullopt;
  }
  return *v;
}

void JsonFields::invalid(std::string field, std::string message) {
  // One problem per field is enough for a client to fix it.
  for (const auto& e : errors_)
    if (e.field == field) return;
  errors_.push_back({std::move(field), std::move(message)});
}

Result<void> JsonFields::finish() {
  for (const auto& [key, value] : object_.items()) {
    if (!seen_.count(key)) invalid(key.size() > 100 ? key.substr(0, 100) : key, "unknown field");
  }
  if (errors_.empty()) return {};
  std::string detail =
      "invalid request body: " + errors_.front().field + " " + errors_.front().message;
  if (errors_.size() > 1) detail += " (and " + std::to_string(errors_.size() - 1) + " more)";
  return fail(Error::invalid(std::move(detail), errors_));
}

std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

bool valid_email(std::string_view email) {
  if (email.size() > 254) return false;
  const auto at = email.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || at + 1 >= email.size()) return false;
  const auto local = email.substr(0, at);
  const auto domain = email.substr(at + 1);
  constexpr std::string_view kForbidden = " \"(),:;<>@[\\]";
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || kForbidden.find(c) != std::string_view::npos) return false;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return false;
  if (domain.find('.') == std::string_view::npos || domain.size() > 253) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto dot = domain.find('.', start);
    auto label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace atrium::http
