#include "identity/verified_tokens.hpp"

#include <functional>

namespace atrium::identity {

std::string_view VerifiedTokenCache::signature_of(std::string_view token) {
  const auto dot = token.rfind('.');
  return dot == std::string_view::npos ? token : token.substr(dot + 1);
}

const VerifiedTokenCache::Shard& VerifiedTokenCache::shard(std::string_view signature) const {
  return shards_[std::hash<std::string_view>{}(signature) % kShards];
}

VerifiedTokenCache::Shard& VerifiedTokenCache::shard(std::string_view signature) {
  return shards_[std::hash<std::string_view>{}(signature) % kShards];
}

std::optional<Result<AccessClaims>> VerifiedTokenCache::find(std::string_view token,
                                                             TimePoint now) const {
  const auto signature = signature_of(token);
  const Shard& s = shard(signature);
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(std::string(signature));
  if (it == s.entries.end() || it->second.first != token) return std::nullopt;
  if (auto times = check_times(it->second.second, now); !times)
    return Result<AccessClaims>(fail(times.error()));
  return Result<AccessClaims>(it->second.second);
}

void VerifiedTokenCache::put(std::string_view token, const AccessClaims& claims) {
  const auto signature = signature_of(token);
  Shard& s = shard(signature);
  std::lock_guard lock(s.mu);
  if (s.entries.size() >= kPerShard) s.entries.clear();
  s.entries.insert_or_assign(std::string(signature), std::make_pair(std::string(token), claims));
}

std::size_t VerifiedTokenCache::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace atrium::identity
