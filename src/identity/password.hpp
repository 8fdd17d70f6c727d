// Password hashing: Argon2id through libargon2 (the reference implementation), at OWASP's
// parameters by default (19 MiB, t = 2, p = 1), on the bounded HashPool. Each hashing thread keeps
// its Argon2 memory between hashes (see password.cpp). Hashes are self-describing PHC strings
// ("$argon2id$v=19$m=19456,t=2,p=1$…", the format libsodium writes too: older hashes verify), so
// parameters can change and old hashes still verify; `needs_rehash` says when a successful login
// should store a fresh hash.
//
// Enumeration resistance: verify() against no stored hash checks a dummy hash of the same
// parameters, so an unknown email costs what a wrong password costs. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "identity/hash_pool.hpp"
#include "platform/error.hpp"

namespace atrium::identity {

struct PasswordParams {
  std::uint64_t ops_limit = 2;                // Argon2 passes (t)
  std::size_t mem_limit = 19u * 1024 * 1024;  // bytes (m)
};

inline constexpr std::size_t kMinPasswordChars = 10;
inline constexpr std::size_t kMaxPasswordChars = 128;

class PasswordHasher {
 public:
  PasswordHasher(HashPool& pool, PasswordParams params);

  // Code::kUnavailable when the pool refuses (overload).
  Result<std::string> hash(std::string_view password);

  struct Check {
    bool ok = false;
    bool needs_rehash = false;  // ok, but hashed with other parameters
  };
  // `stored` nullopt (unknown user, no password) verifies against the dummy and is never ok.
  Result<Check> verify(std::string_view password, const std::optional<std::string>& stored);

  const PasswordParams& params() const { return params_; }

 private:
  std::string hash_now(std::string_view password) const;
  const std::string& dummy();

  HashPool& pool_;
  const PasswordParams params_;
  std::once_flag dummy_once_;
  std::string dummy_;
};

}  // namespace atrium::identity
