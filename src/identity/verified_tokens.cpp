#include "identity/verified_tokens.hpp"

#include <atomic>

#include "access/permissions.hpp"

namespace atrium::identity {

namespace {

std::atomic<std::uint64_t> next_cache_id{1};

// The entry this thread found last, and in which cache. A client sends the same token with every
// request of a connection, and a request asks twice (where it runs, then who calls): comparing
// the token with the last one skips the signature's hash and the shard's lock. Entries are
// immutable, so a remembered one answers exactly what the shard would have.
struct Memo {
  std::uint64_t cache = 0;
  std::string token;
  std::shared_ptr<const VerifiedToken> entry;
};
thread_local Memo memo;

}  // namespace

VerifiedTokenCache::VerifiedTokenCache() : id_(next_cache_id.fetch_add(1)) {}

std::string_view VerifiedTokenCache::signature_of(std::string_view token) {
  const auto dot = token.rfind('.');
  return dot == std::string_view::npos ? token : token.substr(dot + 1);
}

const VerifiedTokenCache::Shard& VerifiedTokenCache::shard(std::string_view signature) const {
  return shards_[Hash{}(signature) % kShards];
}

VerifiedTokenCache::Shard& VerifiedTokenCache::shard(std::string_view signature) {
  return shards_[Hash{}(signature) % kShards];
}

std::optional<Result<std::shared_ptr<const VerifiedToken>>> VerifiedTokenCache::find(
    std::string_view token, TimePoint now) const {
  std::shared_ptr<const VerifiedToken> entry;
  if (memo.cache == id_ && memo.token == token) {
    entry = memo.entry;
  } else {
    const auto signature = signature_of(token);
    const Shard& s = shard(signature);
    {
      std::lock_guard lock(s.mu);
      auto it = s.entries.find(signature);
      if (it == s.entries.end() || it->second.first != token) return std::nullopt;
      entry = it->second.second;
    }
    memo.cache = id_;
    memo.token.assign(token);
    memo.entry = entry;
  }
  if (auto times = check_times(entry->claims, now); !times)
    return Result<std::shared_ptr<const VerifiedToken>>(fail(times.error()));
  return Result<std::shared_ptr<const VerifiedToken>>(std::move(entry));
}

std::shared_ptr<const VerifiedToken> VerifiedTokenCache::put(std::string_view token,
                                                             AccessClaims claims) {
  auto entry = std::make_shared<VerifiedToken>();
  Principal& p = entry->principal;
  p.kind = Principal::Kind::kUser;
  p.user_id = claims.sub;
  p.email = claims.email;
  p.org_id = claims.org_id;
  p.permissions = claims.permissions;
  p.catalog_grants = access::compile_grants(p.permissions);
  p.session_id = claims.sid;
  p.token_id = claims.jti;
  p.expires_at = TimePoint(std::chrono::seconds(claims.exp));
  entry->claims = std::move(claims);

  const auto signature = signature_of(token);
  Shard& s = shard(signature);
  std::lock_guard lock(s.mu);
  if (s.entries.size() >= kPerShard) s.entries.clear();
  s.entries.insert_or_assign(std::string(signature), std::make_pair(std::string(token), entry));
  return entry;
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
