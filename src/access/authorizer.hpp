// The authorizer (the seed's Lambda authorizer): credentials → Principal, and the route policy.
#pragma once

#include <memory>
#include <optional>

#include "http/message.hpp"
#include "http/router.hpp"

namespace atrium::access {

// Turns a request's credential (bearer access token or API key) into a Principal. Implemented by
// identity/; tests use fakes.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // nullopt when the request carries no credential; Code::kUnauthenticated when it carries one
  // that does not verify (malformed, expired, wrongly signed, revoked). Thread-safe.
  virtual Result<std::optional<Principal>> authenticate(const http::Request& req) = 0;
  // The same, shared and immutable: null when the request carries no credential. The request
  // path calls this one; an implementation that keeps the Principal of a verified credential
  // (a cache) overrides it to hand that out instead of a copy per request. By default it wraps
  // authenticate(). Thread-safe.
  virtual Result<std::shared_ptr<const Principal>> authenticate_shared(const http::Request& req);
};

// The route policy, deny by default: a public route admits anyone; an authenticated route needs a
// principal (else 401; null means none); a permission route needs a principal (401) holding the
// permission, by the wildcard rule (else 403 permission_denied naming it).
Result<void> authorize(const http::Access& access, const Principal* principal);

// The same, with the route's permission already resolved: `permission_index` is
// catalog_index(access.permission()), computed once when the routes are built.
Result<void> authorize(const http::Access& access, int permission_index,
                       const Principal* principal);

}  // namespace atrium::access
