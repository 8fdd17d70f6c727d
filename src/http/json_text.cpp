#include "http/json_text.hpp"

#include <array>
#include <cstring>

namespace atrium::http {
namespace {

// Bytes a JSON string cannot hold as they are (nlohmann's escaping: control characters, '"',
// '\\') or that need UTF-8 checking (0x80 and up).
constexpr auto kSpecial = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = table['\\'] = true;
  for (int c = 0x80; c < 0x100; ++c) table[c] = true;
  return table;
}();

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

void JsonText::value(const nlohmann::json& v) {
  separate();
  out_ += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JsonText::string(std::string_view s) {
  separate();
  bool ascii = true;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  // Invalid UTF-8 is replaced as nlohmann does it: the rare case, left to it.
  if (!ascii && !valid_utf8(s)) {
    out_ += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out_ += '"';
  std::size_t plain = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kSpecial[c] || c >= 0x80) continue;
    out_.append(s.data() + plain, i - plain);
    plain = i + 1;
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
      default: {
        const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out_.append(u, sizeof u);
      }
    }
  }
  out_.append(s.data() + plain, s.size() - plain);
  out_ += '"';
}

}  // namespace atrium::http
