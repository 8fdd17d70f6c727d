// Sign-up, login, sessions (refresh-token families), switching organization, and the caller's
// own view (API.md, Auth). Every flow writes its audit entry in the transaction that makes the
// change. Password hashing happens before any transaction opens, on the HashPool.
//
// Errors (API.md): 400 invalid_request for bad input; 401 invalid_credentials for a wrong email
// or password (the same answer, body and cost for both); 401 unauthenticated for a bad, spent or
// revoked refresh token; 404 for an organization the user does not belong to; 409 for a taken
// email; 429 rate_limited (Retry-After) when throttled; 503 (Retry-After) when the hashing pool
// is saturated. Thread-safe.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "http/message.hpp"
#include "identity/access_token.hpp"
#include "identity/login_throttle.hpp"
#include "identity/me_cache.hpp"
#include "identity/password.hpp"
#include "identity/revocation.hpp"
#include "identity/store.hpp"
#include "platform/clock.hpp"
#include "tenancy/store.hpp"

namespace atrium::identity {

inline constexpr std::chrono::hours kRefreshTokenTtl{24 * 30};

// The token bundle of API.md.
struct Bundle {
  std::string access_token;
  std::string refresh_token;
  store::User user;
  std::optional<tenancy::Organization> organization;
  std::vector<std::string> permissions;
  std::string session_id;
  std::string refresh_token_id;  // the stored row (not part of the answer)

  nlohmann::json to_json() const;
};

struct SignupInput {
  std::string email;  // lower-cased, validated
  std::string password;
  std::string name;
  std::string organization_name;
};

struct LoginInput {
  std::string email;  // lower-cased
  std::string password;
  std::optional<std::string> organization_id;
};

class Service {
 public:
  Service(db::Database& db, const KeyRing& keys, PasswordHasher& passwords, LoginThrottle& throttle,
          Revocations& revocations, MeCache& me_cache, const Clock& clock);

  Result<Bundle> signup(const SignupInput& in, const http::Request& req);
  Result<Bundle> login(const LoginInput& in, const http::Request& req);
  Result<Bundle> refresh(std::string_view refresh_token, const http::Request& req);
  Result<void> logout(std::string_view refresh_token, const http::Request& req);
  Result<Bundle> switch_organization(const Principal& caller, std::string_view org_id,
                                     const http::Request& req);
  // GET /api/me as JSON text: {user, organization, permissions, memberships: [{organization,
  // roles}]}, from the MeCache when it holds a fresh view (no database), else from the store.
  Result<std::string> me(const Principal& caller);

  // A new session for `user` in `org` (null: no organization), inside the caller's transaction:
  // the refresh token is stored and the access token signed with the enriched permissions. For
  // flows that end signed in (e.g. accepting an invitation).
  Result<Bundle> open_session(db::Tx& tx, const store::User& user,
                              const std::optional<tenancy::Organization>& org,
                              const http::Request& req);

  // Operators (CLI): an access token for a user in an organization (the seed's
  // createEnrichedToken), with a new session so it can be logged out like any other.
  Result<Bundle> mint(std::string_view email, const std::optional<std::string>& org_id);
  // Operators (CLI): creates (or promotes) a user holding the global SUPER_ADMIN role.
  Result<store::User> create_superadmin(std::string_view email, std::string_view password);

 private:
  Result<Bundle> issue(db::Tx& tx, const store::User& user,
                       const std::optional<tenancy::Organization>& org, std::string family_id,
                       const store::SessionOrigin& origin);
  Result<std::optional<tenancy::Organization>> pick_organization(
      db::Tx& tx, const store::User& user, const std::optional<std::string>& wanted);
  Result<void> revoke_session(db::Tx& tx, const std::string& family_id, Revocation& out);

  db::Database& db_;
  const KeyRing& keys_;
  PasswordHasher& passwords_;
  LoginThrottle& throttle_;
  Revocations& revocations_;
  MeCache& me_cache_;
  const Clock& clock_;
};

}  // namespace atrium::identity
