// The authorizer (the seed's Lambda authorizer): credentials → Principal, and the route policy.
#pragma once

#include <memory>

#include "http/message.hpp"
#include "http/router.hpp"

namespace atrium::access {

// Turns a request's credential (bearer access token or API key) into a Principal. Implemented by
// identity/; tests use fakes.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The request's Principal, shared and immutable (an implementation that caches verified
  // credentials hands out the cached one instead of a copy per request); null when the request
  // carries no credential; Code::kUnauthenticated when it carries one that does not verify
  // (malformed, expired, wrongly signed, revoked). Thread-safe.
  virtual Result<std::shared_ptr<const Principal>> authenticate(const http::Request& req) = 0;
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
