#include "identity/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "platform/ids.hpp"

namespace atrium::identity {

PasswordHasher::PasswordHasher(HashPool& pool, PasswordParams params)
    : pool_(pool), params_(params) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string PasswordHasher::hash_now(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params_.ops_limit,
                            params_.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // Only fails when the memory cannot be allocated.
    throw std::runtime_error("password hashing failed: out of memory");
  }
  return out;
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
    const bool real = stored.has_value() && stored->starts_with("$argon2");
    const std::string& against = real ? *stored : dummy();
    const bool match =
        crypto_pwhash_str_verify(against.c_str(), password.data(), password.size()) == 0;
    check.ok = real && match;
    if (check.ok) {
      check.needs_rehash = crypto_pwhash_str_needs_rehash(against.c_str(), params_.ops_limit,
                                                          params_.mem_limit) != 0;
    }
  });
  if (!r) return fail(r.error());
  return check;
}

}  // namespace atrium::identity
