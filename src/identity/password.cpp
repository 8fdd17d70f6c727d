#include "identity/password.hpp"

#include <argon2.h>
#include <sodium.h>

#include <array>
#include <charconv>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "platform/ids.hpp"

namespace atrium::identity {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Bounds on what a stored string may ask for, so a damaged row cannot make us allocate gigabytes.
constexpr std::uint32_t kMaxMemoryKiB = 1u << 20;  // 1 GiB
constexpr std::uint32_t kMaxPasses = 64;
constexpr std::uint32_t kMaxLanes = 16;
constexpr std::size_t kMaxSaltBytes = 64;
constexpr std::size_t kMaxHashBytes = 64;

// Each hashing thread keeps one block of memory for all its hashes. Argon2 implementations that
// map their memory afresh for every hash (libsodium's does) pay a first-touch page fault for every
// 4 KiB page — on a virtual machine with page-table isolation ≈ 37 of the 46 ms a 19 MiB hash took
// — and their mmap/munmap churn stalls the process's other threads (docs/IDENTITY.md). libargon2
// wipes the memory before handing it back, so nothing of a password stays in it.
struct Arena {
  std::unique_ptr<std::uint8_t[]> data;
  std::size_t size = 0;
};
thread_local Arena arena;

int arena_allocate(std::uint8_t** memory, std::size_t bytes) {
  if (bytes > arena.size) {
    arena.data.reset();
    arena.size = 0;
    arena.data.reset(new (std::nothrow) std::uint8_t[bytes]);
    if (!arena.data) return ARGON2_MEMORY_ALLOCATION_ERROR;
    arena.size = bytes;
  }
  *memory = arena.data.get();
  return ARGON2_OK;
}

void arena_release(std::uint8_t*, std::size_t) {}

// The PHC string format that libsodium and libargon2 both write:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, base64 without padding.
struct Encoded {
  std::uint32_t memory_kib = 0;
  std::uint32_t passes = 0;
  std::uint32_t lanes = 0;
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> hash;
};

bool take(std::string_view& in, std::string_view prefix) {
  if (!in.starts_with(prefix)) return false;
  in.remove_prefix(prefix.size());
  return true;
}

bool take_number(std::string_view& in, std::uint32_t max, std::uint32_t& out) {
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), out);
  if (ec != std::errc() || end == in.data() || out == 0 || out > max) return false;
  in.remove_prefix(static_cast<std::size_t>(end - in.data()));
  return true;
}

bool take_base64(std::string_view& in, std::size_t max, std::vector<std::uint8_t>& out) {
  const std::string_view field = in.substr(0, in.find('$'));
  out.resize(max);
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), field.data(), field.size(), nullptr, &length, &end,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
      end != field.data() + field.size()) {
    return false;
  }
  out.resize(length);
  in.remove_prefix(field.size());
  return true;
}

std::optional<Encoded> parse(std::string_view in) {
  Encoded e;
  if (!take(in, "$argon2id$v=19$m=") || !take_number(in, kMaxMemoryKiB, e.memory_kib) ||
      !take(in, ",t=") || !take_number(in, kMaxPasses, e.passes) || !take(in, ",p=") ||
      !take_number(in, kMaxLanes, e.lanes) || !take(in, "$") ||
      !take_base64(in, kMaxSaltBytes, e.salt) || !take(in, "$") ||
      !take_base64(in, kMaxHashBytes, e.hash) || !in.empty() ||
      e.salt.size() < ARGON2_MIN_SALT_LENGTH || e.hash.size() < ARGON2_MIN_OUTLEN ||
      e.memory_kib < 8 * e.lanes) {
    return std::nullopt;
  }
  return e;
}

std::string base64(const std::vector<std::uint8_t>& bytes) {
  std::string out(
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string encode(const Encoded& e) {
  return "$argon2id$v=19$m=" + std::to_string(e.memory_kib) + ",t=" + std::to_string(e.passes) +
         ",p=" + std::to_string(e.lanes) + "$" + base64(e.salt) + "$" + base64(e.hash);
}

// Runs Argon2id over the parameters and salt of `e`, writing e.hash.size() bytes to `out`.
int argon2id(std::string_view password, const Encoded& e, std::uint8_t* out) {
  argon2_context context{};
  context.out = out;
  context.outlen = static_cast<std::uint32_t>(e.hash.size());
  // Only read: libargon2 writes to the password only with ARGON2_FLAG_CLEAR_PASSWORD.
  context.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));
  context.pwdlen = static_cast<std::uint32_t>(password.size());
  context.salt = const_cast<std::uint8_t*>(e.salt.data());
  context.saltlen = static_cast<std::uint32_t>(e.salt.size());
  context.t_cost = e.passes;
  context.m_cost = e.memory_kib;
  context.lanes = e.lanes;
  context.threads = 1;
  context.version = ARGON2_VERSION_13;
  context.allocate_cbk = arena_allocate;
  context.free_cbk = arena_release;
  context.flags = ARGON2_DEFAULT_FLAGS;
  return argon2id_ctx(&context);
}

}  // namespace

PasswordHasher::PasswordHasher(HashPool& pool, PasswordParams params)
    : pool_(pool), params_(params) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string PasswordHasher::hash_now(std::string_view password) const {
  Encoded e;
  e.memory_kib = static_cast<std::uint32_t>(params_.mem_limit / 1024);
  e.passes = static_cast<std::uint32_t>(params_.ops_limit);
  e.lanes = 1;
  e.salt.resize(kSaltBytes);
  randombytes_buf(e.salt.data(), e.salt.size());
  e.hash.resize(kHashBytes);
  if (const int rc = argon2id(password, e, e.hash.data()); rc != ARGON2_OK) {
    throw std::runtime_error(std::string("password hashing failed: ") + argon2_error_message(rc));
  }
  return encode(e);
}

const std::string& PasswordHasher::dummy() {
  // Built on first use, on a pool thread, so start-up stays fast.
  std::call_once(dummy_once_, [this] { dummy_ = hash_now(random_token(24)); });
  return dummy_;
}

Result<std::string> PasswordHasher::hash(std::string_view password) {
  std::string out;
  auto r = pool_.run([&] { out = hash_now(password); });
  if (!r) return fail(r.error());
  return out;
}

Result<PasswordHasher::Check> PasswordHasher::verify(std::string_view password,
                                                     const std::optional<std::string>& stored) {
  Check check;
  auto r = pool_.run([&] {
    const std::optional<Encoded> real = stored ? parse(*stored) : std::nullopt;
    const std::optional<Encoded> fallback = real ? std::nullopt : parse(dummy());
    const Encoded& against = real ? *real : *fallback;
    std::array<std::uint8_t, kMaxHashBytes> computed;
    const int rc = argon2id(password, against, computed.data());
    if (rc != ARGON2_OK) {
      throw std::runtime_error(std::string("password check failed: ") + argon2_error_message(rc));
    }
    const bool match =
        sodium_memcmp(computed.data(), against.hash.data(), against.hash.size()) == 0;
    check.ok = real.has_value() && match;
    check.needs_rehash = check.ok && (against.memory_kib != params_.mem_limit / 1024 ||
                                      against.passes != params_.ops_limit || against.lanes != 1);
  });
  if (!r) return fail(r.error());
  return check;
}

}  // namespace atrium::identity
