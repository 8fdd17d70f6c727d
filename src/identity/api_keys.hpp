// API keys (`atr_` + 256 random bits): created for the caller's organization with a subset of
// the caller's permissions, shown once, stored hashed, revoked at once.
//
// A key acts with the permissions it was given *that its creator still holds* in the
// organization (expanded to concrete permissions): demoting the creator narrows their keys, and
// a creator who left the organization (or was disabled) leaves keys that no longer authenticate.
//
// Authentication keeps verified keys in a small cache (30 s) so the request path rarely touches
// the database; revocations drop entries at once (RevocationList listener) and a lookup racing a
// revocation re-checks the denylist after caching. Last use is recorded in memory and written by
// flush_usage() (Identity's maintenance loop). Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "db/database.hpp"
#include "http/message.hpp"
#include "http/pagination.hpp"
#include "identity/revocation.hpp"
#include "identity/store.hpp"
#include "platform/clock.hpp"

namespace atrium::identity {

inline constexpr std::string_view kApiKeyPrefix = "atr_";

// True for text shaped like a key this server issues (prefix, 43 base64url characters).
bool looks_like_api_key(std::string_view text);

class ApiKeys {
 public:
  ApiKeys(db::Database& db, Revocations& revocations, const Clock& clock);

  struct Created {
    store::ApiKey key;
    std::string secret;  // the key itself; returned once, never stored
  };
  // 400 for unknown permissions, 403 privilege_escalation for permissions the caller lacks,
  // 403 permission_denied when the caller is itself an API key.
  Result<Created> create(const Principal& caller, std::string name,
                         std::vector<std::string> permissions, std::optional<int> expires_in_days,
                         const http::Request& req);
  Result<store::ApiKeyPage> list(const Principal& caller, const http::PageQuery& page);
  // 404 unless a live key of the caller's organization.
  Result<void> revoke(const Principal& caller, std::string_view key_id, const http::Request& req);

  // The Principal for a presented key; Code::kUnauthenticated when unknown, revoked, expired or
  // its creator no longer belongs to the organization.
  Result<Principal> authenticate(std::string_view key);

  // Writes the last-use times gathered since the previous flush.
  Result<void> flush_usage();

 private:
  struct Cached {
    Principal principal;
    std::optional<TimePoint> expires_at;
    TimePoint loaded_at;
  };
  Result<Cached> load(const std::string& key_hash);
  void forget(const Revocation& r);

  db::Database& db_;
  Revocations& revocations_;
  const Clock& clock_;
  std::shared_mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // by key hash
  std::atomic<std::uint64_t> generation_{0};       // bumped by every revocation
  std::mutex usage_mu_;
  struct Use {
    std::optional<std::string> org_id;  // the key's organization: the write acts for it
    TimePoint at;
  };
  std::map<std::string, Use> usage_;  // key id → last use not yet written
};

}  // namespace atrium::identity
