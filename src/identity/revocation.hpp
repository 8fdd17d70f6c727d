// Revocation before expiry (DESIGN.md §7, API.md "Details that clients rely on"): after a logout,
// a member's removal or role change, or an API key's revocation, the old credential answers 401
// within 5 s on every replica.
//
// How: the change stages a Revocation in its own transaction (table token_revocations), then
// announces it — applied to this replica's RevocationList at once and published on the EventBus
// (topic "auth.revoke") for the others. Because bus delivery is at most once, every replica also
// polls the table every couple of seconds and loads the live rows at start-up; applying is
// idempotent. Entries are forgotten once no token they could match is still valid.
//
// Matching, for an access token with session `sid`, user `sub`, organization `org_id` and issue
// time `t` (ms, from its UUIDv7 jti):
//   session(sid)          every token of that session;
//   member(user, org)     the user's tokens for that organization issued before the cutoff;
//   user(user)            the user's tokens for any organization issued before the cutoff;
//   organization(org)     every token for that organization issued before the cutoff;
//   api_key(id)           the API key (its cache entry is dropped; the store says it is revoked).
// A client whose token was cut off refreshes and gets a token with the new permissions.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/event_bus.hpp"
#include "db/database.hpp"
#include "identity/access_token.hpp"
#include "platform/clock.hpp"

namespace atrium::identity {

struct Revocation {
  enum class Kind { kSession, kMember, kUser, kOrganization, kApiKey };
  std::string id;  // unique; applying the same revocation twice is a no-op
  Kind kind = Kind::kSession;
  std::string subject;                // session id | user id | organization id | API key id
  std::optional<std::string> org_id;  // kMember: the organization
  std::int64_t cutoff_ms = 0;         // tokens issued before this are refused
  std::int64_t expires_ms = 0;        // after this the entry matches nothing still valid

  std::string to_json() const;
  static std::optional<Revocation> from_json(std::string_view text);
};

std::string_view kind_name(Revocation::Kind kind);

// The in-memory denylist. Thread-safe; lookups take a shared lock and allocate nothing.
class RevocationList {
 public:
  // False when this revocation (by id) was applied before.
  bool apply(const Revocation& r);
  bool revoked(const AccessClaims& claims) const;
  bool api_key_revoked(std::string_view key_id) const;
  void prune(std::int64_t now_ms);  // forgets expired entries
  std::size_t size() const;

  // Called after every apply (outside the lock), e.g. to drop cached API keys.
  void on_apply(std::function<void(const Revocation&)> listener);

 private:
  struct Cutoff {
    std::int64_t cutoff_ms;
    std::int64_t expires_ms;
  };
  struct MemberCutoff {
    std::string org_id;
    Cutoff cutoff;
  };
  static void raise(std::unordered_map<std::string, Cutoff>& map, const std::string& key,
                    const Revocation& r);

  mutable std::shared_mutex mu_;
  std::atomic<bool> empty_{true};
  std::unordered_map<std::string, Cutoff> sessions_;
  std::unordered_map<std::string, Cutoff> users_;
  std::unordered_map<std::string, std::vector<MemberCutoff>> members_;  // by user id
  std::unordered_map<std::string, Cutoff> organizations_;
  std::unordered_map<std::string, Cutoff> api_keys_;
  std::unordered_map<std::string, std::int64_t> applied_;  // id → expires_ms
  std::mutex listeners_mu_;
  std::vector<std::function<void(const Revocation&)>> listeners_;
};

// Stages, announces and catches up revocations. Thread-safe.
class Revocations {
 public:
  // `bus` may be null (a single process with no bus: announce applies locally only).
  Revocations(db::Database& db, broker::EventBus* bus, const Clock& clock);
  ~Revocations();

  RevocationList& list() { return list_; }

  // Revocations as of now. Token kinds live as long as an access token could.
  Revocation session(std::string session_id) const;
  Revocation member(std::string user_id, std::string org_id) const;
  Revocation user(std::string user_id) const;
  Revocation organization(std::string org_id) const;
  Revocation api_key(std::string key_id) const;

  // Writes `r` in the caller's transaction. Call announce() after the commit.
  Result<void> stage(db::Tx& tx, const Revocation& r);
  // Applies `r` here at once and publishes it to the other replicas. Never fails: a lost event
  // is caught up by poll().
  void announce(const Revocation& r);

  // Loads every live revocation (start-up), then the rows written since the last poll.
  Result<void> poll();

 private:
  db::Database& db_;
  broker::EventBus* bus_;
  const Clock& clock_;
  RevocationList list_;
  broker::EventBus::Subscription subscription_;
  std::mutex poll_mu_;
  std::optional<TimePoint> watermark_;  // the last poll's time
  int polls_ = 0;
};

}  // namespace atrium::identity
