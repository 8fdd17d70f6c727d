// Access tokens: JWT, HS256, `kid` header, claims per API.md (DESIGN.md §7).
//
// libjwt signs and is the reference verifier. The request path uses verify_access_token(), a
// dedicated HS256 verifier (OpenSSL SHA-256 from a precomputed HMAC key state, simdjson for the
// JSON) that accepts exactly what verify_access_token_reference() — libjwt plus the same checks —
// accepts; access_token_test.cpp and fuzz/access_token_fuzz.cpp hold the two to that.
//
// What verifies (both functions):
//  - at most kMaxTokenBytes; three non-empty segments `header.payload.signature`, each canonical
//    unpadded base64url;
//  - header and payload: JSON objects (no byte-order mark, no NUL byte anywhere, nothing after
//    the object), nested at most 32 deep, at most 64 members per object, no duplicate names,
//    integers within int64 (the rules jansson, libjwt's parser, applies);
//  - header: `alg` exactly "HS256" (pinned; "none" and every other algorithm refused), `kid` a
//    string naming a configured key, `typ` absent or "JWT" in any case, no `crit`; anything else
//    (jku, jwk, x5u, x5c, …) is ignored and never fetched;
//  - signature: HMAC-SHA256 with that key over `header.payload`;
//  - payload: `iss` = "atrium"; `aud` = "atrium" or an array holding it; `sub`, `sid` non-empty
//    strings; `email` a string; `org_id` a string or null; `permissions` an array of non-empty
//    strings; `jti` a UUIDv7; `iat`, `exp` (and `nbf` if present) integers with
//    now < exp + leeway, nbf ≤ now + leeway and iat ≤ now + leeway.
// Anything else is Code::kUnauthenticated. All functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/clock.hpp"
#include "platform/config.hpp"
#include "platform/error.hpp"

namespace atrium::identity {

inline constexpr std::string_view kIssuer = "atrium";
inline constexpr std::string_view kAudience = "atrium";
inline constexpr std::chrono::seconds kAccessTokenTtl{3600};
inline constexpr std::chrono::seconds kLeeway{30};
inline constexpr std::size_t kMaxTokenBytes = 4096;

struct AccessClaims {
  std::string sub;  // user id
  std::string email;
  std::optional<std::string> org_id;
  std::vector<std::string> permissions;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::optional<std::int64_t> nbf;
  std::string jti;  // a UUIDv7: its timestamp is the issue time to the millisecond
  std::string sid;  // the session (refresh-token family)
  std::string kid;  // the key that signed it (from the header)

  // Issue time in milliseconds since the epoch, from the jti.
  std::int64_t issued_ms() const;
};

// The configured HS256 keys: the first signs, every one verifies. Immutable once built.
class KeyRing {
 public:
  // Throws std::invalid_argument for an empty list, an empty secret or a duplicate kid (the
  // configuration layer has already refused these; this is the last line).
  explicit KeyRing(std::vector<JwtKey> keys);
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  const JwtKey& signing_key() const { return keys_.front(); }
  const JwtKey* find(std::string_view kid) const;

  // HMAC-SHA256 of `data` with the key named `kid` into `out`; false for an unknown kid.
  bool hmac(std::string_view kid, std::string_view data, unsigned char out[32]) const;

 private:
  struct State;
  std::vector<JwtKey> keys_;
  std::vector<std::unique_ptr<State>> states_;
};

// Signs with the ring's signing key (libjwt). `claims.kid` is ignored.
Result<std::string> sign_access_token(const KeyRing& keys, const AccessClaims& claims);

// The request path's verifier. No allocation beyond the returned claims' strings.
Result<AccessClaims> verify_access_token(const KeyRing& keys, std::string_view token,
                                         TimePoint now);

// The time rules alone, for claims that verified before: now < exp + leeway, nbf ≤ now + leeway,
// iat ≤ now + leeway.
Result<void> check_times(const AccessClaims& claims, TimePoint now);

// The reference: libjwt's jwt_decode plus the checks above, implemented independently (libsodium
// base64, nlohmann-json). Slow (≈ 25 µs); for tests, the fuzz target and the benchmark.
Result<AccessClaims> verify_access_token_reference(const KeyRing& keys, std::string_view token,
                                                   TimePoint now);

// A new UUIDv7 whose timestamp is `t` (token ids, so the issue time follows the injected clock).
std::string make_jti(TimePoint t);

// A UUIDv7's millisecond timestamp; nullopt when `id` is not a version-7 UUID.
std::optional<std::int64_t> uuid7_millis(std::string_view id);

}  // namespace atrium::identity
