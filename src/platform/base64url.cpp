#include "platform/base64url.hpp"

#include <array>
#include <cstdint>

namespace atrium {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}

constexpr auto kTable = make_table();

}  // namespace

std::size_t base64url_encode_to(std::string_view bytes, char* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = in[i] << 16;
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
  }
  return o;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out(base64url_encoded_size(bytes.size()), '\0');
  out.resize(base64url_encode_to(bytes, out.data()));
  return out;
}

bool base64url_decode_to(std::string_view text, std::string& out) {
  const std::size_t n = text.size();
  const std::size_t tail = n % 4;
  if (tail == 1) return false;
  out.resize(n / 4 * 3 + (tail ? tail - 1 : 0));
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  // Four characters to three bytes at a time; one test per group for bad characters (-1).
  for (; i + 4 <= n; i += 4, o += 3) {
    const int a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]],
              d = kTable[in[i + 3]];
    if ((a | b | c | d) < 0) return false;
    const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
  }
  if (tail == 0) return true;
  const int a = kTable[in[i]], b = kTable[in[i + 1]];
  const int c = tail == 3 ? kTable[in[i + 2]] : 0;
  if ((a | b | c) < 0) return false;
  const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
  o[0] = static_cast<unsigned char>(v >> 16);
  if (tail == 3) o[1] = static_cast<unsigned char>(v >> 8);
  // Canonical form only: the bits below the last whole byte must be zero.
  return (v & (tail == 2 ? 0xffffu : 0xffu)) == 0;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  if (!base64url_decode_to(text, out)) return std::nullopt;
  return out;
}

}  // namespace atrium
