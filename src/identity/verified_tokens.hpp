// A bounded cache of access tokens that verified (DESIGN.md §7 allows one beside the fast
// verifier): a client sends the same token for up to an hour, so after the first request its
// signature and claims need not be checked again — only the time rules (exp, nbf, iat), which
// are re-checked on every hit, and the revocation list, which the caller always consults.
//
// An entry also holds the Principal built from the claims, its permissions compiled against the
// catalog (Principal::catalog_grants), so a request copies it instead of rebuilding it and its
// route check is one AND.
//
// Keyed by the token's signature segment and confirmed by comparing the whole token, so a hit
// answers exactly what verify_access_token() answered for that same text. Only valid tokens are
// stored (garbage cannot evict anything but other tokens); 16 shards of at most 512 entries
// each, a full shard is emptied. Entries are immutable and shared. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "identity/access_token.hpp"
#include "platform/principal.hpp"

namespace atrium::identity {

struct VerifiedToken {
  AccessClaims claims;
  Principal principal;  // kUser, from the claims, permissions compiled
};

class VerifiedTokenCache {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerShard = 512;

  VerifiedTokenCache();

  // The entry of `token` if it verified before and its time rules still hold at `now`;
  // Code::kUnauthenticated if it verified before but has expired since; nullopt if unknown.
  std::optional<Result<std::shared_ptr<const VerifiedToken>>> find(std::string_view token,
                                                                   TimePoint now) const;
  // Keeps the entry for `claims`, which verify_access_token() returned for `token`.
  std::shared_ptr<const VerifiedToken> put(std::string_view token, AccessClaims claims);
  std::size_t size() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    // signature → (token, entry); looked up by string_view, without a copy
    std::unordered_map<std::string, std::pair<std::string, std::shared_ptr<const VerifiedToken>>,
                       Hash, std::equal_to<>>
        entries;
  };
  static std::string_view signature_of(std::string_view token);
  const Shard& shard(std::string_view signature) const;
  Shard& shard(std::string_view signature);

  const std::uint64_t id_;  // tells this cache's entries in a thread's memo (see find())
  std::array<Shard, kShards> shards_;
};

}  // namespace atrium::identity
