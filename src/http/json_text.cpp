#include "http/json_text.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace atrium::http {
namespace {

// Whether any of the 8 bytes of `w` is below 0x20, '"', '\\' or 0x80 and up (to escape, or to
// check as UTF-8): the classic "has a byte less than n" and "has a zero byte" tests.
bool word_is_special(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  return (below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) | (w & kHigh)) !=
         0;
}

bool byte_is_special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

// The length of the prefix of `s` made of bytes that need nothing, 8 at a time.
std::size_t plain_run(std::string_view s, std::size_t from) {
  std::size_t run = from;
  std::uint64_t w;
  for (; run + 8 <= s.size(); run += 8) {
    std::memcpy(&w, s.data() + run, sizeof w);
    if (word_is_special(w)) break;
  }
  while (run < s.size() && !byte_is_special(static_cast<unsigned char>(s[run]))) ++run;
  return run;
}

// Whether `s` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int i = 2; i <= n; ++i)
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    p += n + 1;
  }
  return true;
}

}  // namespace

void JsonText::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_.empty()) return;
  if (first_.back())
    first_.back() = false;
  else
    out_ += ',';
}

void JsonText::begin_object() {
  separate();
  out_ += '{';
  first_.push_back(true);
}

void JsonText::end_object() {
  out_ += '}';
  first_.pop_back();
}

void JsonText::begin_array() {
  separate();
  out_ += '[';
  first_.push_back(true);
}

void JsonText::end_array() {
  out_ += ']';
  first_.pop_back();
}

void JsonText::key(std::string_view k) {
  separate();
  out_ += '"';
  out_ += k;
  out_ += "\":";
  after_key_ = true;
}

void JsonText::null() {
  separate();
  out_ += "null";
}

void JsonText::string_or_null(const std::optional<std::string_view>& s) {
  if (s)
    string(*s);
  else
    null();
}

void JsonText::integer(std::int64_t v) {
  separate();
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out_.append(digits, end);
}

void JsonText::value(const nlohmann::json& v) {
  separate();
  out_ += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JsonText::object_text(std::string_view stored) {
  if (stored == "{}") {
    separate();
    out_ += "{}";
    return;
  }
  auto parsed = nlohmann::json::parse(stored, nullptr, false);
  value(parsed.is_object() ? parsed : nlohmann::json::object());
}

void JsonText::string(std::string_view s) {
  separate();
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t at = plain_run(s, 0);
  if (at == s.size()) {  // the common case: nothing to escape, nothing to check
    out_ += '"';
    out_.append(s);
    out_ += '"';
    return;
  }
  // Invalid UTF-8 is replaced as nlohmann does it: the rare case, left to it.
  if (!valid_utf8(s.substr(at))) {
    out_ += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out_ += '"';
  out_.append(s.data(), at);
  while (at < s.size()) {
    const auto c = static_cast<unsigned char>(s[at]);
    ++at;
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\b':
        out_ += "\\b";
        break;
      case '\f':
        out_ += "\\f";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        if (c >= 0x80) {
          out_ += static_cast<char>(c);  // valid UTF-8, checked above
        } else {
          const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out_.append(u, sizeof u);
        }
    }
    const std::size_t next = plain_run(s, at);
    out_.append(s.data() + at, next - at);
    at = next;
  }
  out_ += '"';
}

}  // namespace atrium::http
