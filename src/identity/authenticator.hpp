// The authorizer's first half (the seed's Lambda authorizer): `Authorization: Bearer <credential>`
// → Principal, where the credential is an access token (JWT) or an API key (`atr_…`).
//
// Only that header is read: a token in the query string (`?access_token=`, `?token=`) or a cookie
// is never accepted. A request with no Authorization header has no credential (null); one
// with a malformed header, two Authorization headers, or a credential that does not verify
// (bad signature, expired, revoked, unknown key…) is Code::kUnauthenticated. Thread-safe.
#pragma once

#include "access/authorizer.hpp"
#include "identity/access_token.hpp"
#include "identity/api_keys.hpp"
#include "identity/revocation.hpp"
#include "identity/verified_tokens.hpp"
#include "platform/clock.hpp"

namespace atrium::identity {

// The credential of `Authorization: Bearer <credential>`: nullopt without the header;
// Code::kUnauthenticated for two headers, another scheme or an empty credential.
Result<std::optional<std::string_view>> bearer_credential(const http::Request& req);

class TokenAuthenticator final : public access::Authenticator {
 public:
  TokenAuthenticator(const KeyRing& keys, const RevocationList& revocations, ApiKeys& api_keys,
                     const Clock& clock);

  // For an access token, the Principal kept with its cache entry (no copy per request).
  Result<std::shared_ptr<const Principal>> authenticate(const http::Request& req) override;

  // The access-token half alone (also used by the WebSocket upgrade and benchmarks).
  Result<Principal> authenticate_token(std::string_view token) const;
  Result<std::shared_ptr<const Principal>> token_principal(std::string_view token) const;

  // The token's verification (signature, claims, time rules) from the cache or the verifier,
  // without the revocation list: for decisions that are not access, e.g. where to run a request.
  Result<std::shared_ptr<const VerifiedToken>> verified(std::string_view token) const;

 private:
  const KeyRing& keys_;
  const RevocationList& revocations_;
  ApiKeys& api_keys_;
  const Clock& clock_;
  mutable VerifiedTokenCache verified_;
};

}  // namespace atrium::identity
