// GET /api/me without the database on the hot path: the caller's view (user, organization,
// memberships) kept in memory for a short time, keyed by user and organization (or API key).
//
// Entries live `ttl` (2 s) and are dropped at once when a revocation touches the user or the
// organization (the RevocationList listener) or when forget_user()/forget_organization() is
// called by a module that changes names or memberships without revoking anything (creating an
// organization, renaming one, accepting an invitation). A change made on another replica is
// therefore visible here within the ttl. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/clock.hpp"
#include "platform/principal.hpp"

namespace atrium::identity {

class MeCache {
 public:
  struct View {
    std::string user;          // {"id","email","name"} as JSON text
    std::string organization;  // JSON object or null
    std::string memberships;   // JSON array
  };

  explicit MeCache(const Clock& clock, std::chrono::milliseconds ttl = std::chrono::seconds(2),
                   std::size_t max_entries = 100000);

  // The answer's JSON text for `caller`, when a fresh view is cached.
  std::optional<std::string> render(const Principal& caller) const;
  // The answer's JSON text for `caller` from `view`.
  static std::string compose(const Principal& caller, const View& view);
  bool contains(const Principal& caller) const;
  void put(const Principal& caller, View view);

  void forget_user(std::string_view user_id);
  void forget_organization(std::string_view org_id);
  void clear();

 private:
  struct Entry {
    View view;
    std::string user_id;
    std::string org_id;
    TimePoint loaded_at;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // The key of `caller` ("k:<key id>" or "u:<user>/<org>"), built in a buffer kept per thread:
  // valid until the thread's next call.
  static std::string_view key_of(const Principal& caller);
  const Entry* fresh(std::string_view key) const;

  const Clock& clock_;
  const std::chrono::milliseconds ttl_;
  const std::size_t max_entries_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
};

}  // namespace atrium::identity
