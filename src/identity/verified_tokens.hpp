// A bounded cache of access tokens that verified (DESIGN.md §7 allows one beside the fast
// verifier): a client sends the same token for up to an hour, so after the first request its
// signature and claims need not be checked again — only the time rules (exp, nbf, iat), which
// are re-checked on every hit, and the revocation list, which the caller always consults.
//
// Keyed by the token's signature segment and confirmed by comparing the whole token, so a hit
// answers exactly what verify_access_token() answered for that same text. Only valid tokens are
// stored (garbage cannot evict anything but other tokens); 16 shards of at most 512 entries
// each, a full shard is emptied. Thread-safe.
#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "identity/access_token.hpp"

namespace atrium::identity {

class VerifiedTokenCache {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerShard = 512;

  // The claims of `token` if it verified before and its time rules still hold at `now`;
  // Code::kUnauthenticated if it verified before but has expired since; nullopt if unknown.
  std::optional<Result<AccessClaims>> find(std::string_view token, TimePoint now) const;
  void put(std::string_view token, const AccessClaims& claims);
  std::size_t size() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::pair<std::string, AccessClaims>> entries;  // sig → token
  };
  static std::string_view signature_of(std::string_view token);
  const Shard& shard(std::string_view signature) const;
  Shard& shard(std::string_view signature);

  std::array<Shard, kShards> shards_;
};

}  // namespace atrium::identity
