#include "platform/ids.hpp"

#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace atrium {
namespace {

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    return true;
  }();
  (void)ready;
}

// ms << 12 | counter, advanced with a CAS so concurrent callers never share a value.
std::atomic<std::uint64_t> last_stamp{0};

std::uint64_t next_stamp() {
  using namespace std::chrono;
  const auto ms = static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  std::uint64_t prev = last_stamp.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t next = std::max(ms << 12, prev + 1);
    if (last_stamp.compare_exchange_weak(prev, next, std::memory_order_relaxed)) return next;
  }
}

// Random bytes for ids from a per-thread pool refilled 4 KiB at a time: libsodium's generator
// makes a getrandom() system call per request, too costly for an id on every request. Ids are
// not secrets; tokens use random_bytes() directly.
void id_random(unsigned char* out, std::size_t n) {
  thread_local unsigned char pool[4096];
  thread_local std::size_t used = sizeof pool;
  if (used + n > sizeof pool) {
    randombytes_buf(pool, sizeof pool);
    used = 0;
  }
  std::memcpy(out, pool + used, n);
  used += n;
}

}  // namespace

std::string new_id() {
  ensure_sodium();
  const std::uint64_t stamp = next_stamp();
  const std::uint64_t ms = stamp >> 12;
  const std::uint64_t counter = stamp & 0xfff;
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (counter >> 8));
  b[7] = static_cast<unsigned char>(counter & 0xff);
  id_random(b + 8, 8);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return format_uuid(b);
}

std::string format_uuid(const unsigned char (&b)[16]) {
  // Into a fixed buffer, then one string: push_back per character cost ~800 instructions for
  // the request id of every request (callgrind).
  static constexpr char kHex[] = "0123456789abcdef";
  char text[36];
  char* out = text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
    *out++ = kHex[b[i] >> 4];
    *out++ = kHex[b[i] & 0xf];
  }
  return std::string(text, sizeof text);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string random_bytes(std::size_t count) {
  ensure_sodium();
  std::string raw(count, '\0');
  randombytes_buf(raw.data(), raw.size());
  return raw;
}

std::string random_token(std::size_t bytes) {
  std::string raw = random_bytes(bytes);
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string hash_token(std::string_view token) {
  ensure_sodium();
  unsigned char digest[crypto_generichash_BYTES];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  std::string hex(sizeof digest * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest, sizeof digest);
  hex.pop_back();
  return hex;
}

bool secure_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace atrium
