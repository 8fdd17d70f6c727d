// Who is calling: built once per request by the authorizer, the only way a handler learns it.
// This is the seed's Lambda authorizer context (org_id, permissions, email).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/clock.hpp"

namespace atrium {

struct Principal {
  enum class Kind { kUser, kApiKey };

  Kind kind = Kind::kUser;
  std::string user_id;     // the user, or for an API key the user who created it
  std::string api_key_id;  // set when kind == kApiKey
  std::string email;
  std::optional<std::string> org_id;  // the tenant; null only for a global super admin
  std::vector<std::string> permissions;
  // `permissions` compiled against the permission catalog (access::compile_grants): bit i set
  // when they grant catalog entry i, so a route's check is one AND. Unset, checks scan
  // `permissions`; whoever changes `permissions` afterwards resets it.
  std::optional<std::uint64_t> catalog_grants;
  std::string session_id;  // the refresh-token family behind an access token
  std::string token_id;    // the access token's jti (its issue time, for revocation cut-offs)
  // When the credential stops being valid (an access token's exp, an API key's expiry); nullopt
  // when it does not expire. Long-lived connections (WebSocket) close at this time.
  std::optional<TimePoint> expires_at;

  // The actor recorded in audit entries.
  const std::string& actor_id() const { return kind == Kind::kApiKey ? api_key_id : user_id; }
  const char* actor_type() const { return kind == Kind::kApiKey ? "api_key" : "user"; }
};

}  // namespace atrium
