#include "identity/authenticator.hpp"

#include <strings.h>

namespace atrium::identity {

TokenAuthenticator::TokenAuthenticator(const KeyRing& keys, const RevocationList& revocations,
                                       ApiKeys& api_keys, const Clock& clock)
    : keys_(keys), revocations_(revocations), api_keys_(api_keys), clock_(clock) {}

Result<std::shared_ptr<const VerifiedToken>> TokenAuthenticator::verified(
    std::string_view token) const {
  const TimePoint now = clock_.now();
  if (auto cached = verified_.find(token, now)) return std::move(*cached);
  auto claims = verify_access_token(keys_, token, now);
  if (!claims) return fail(claims.error());
  return verified_.put(token, std::move(*claims));
}

Result<std::shared_ptr<const Principal>> TokenAuthenticator::token_principal(
    std::string_view token) const {
  auto entry = verified(token);
  if (!entry) return fail(entry.error());
  if (revocations_.revoked((*entry)->claims))
    return fail(Error::unauthenticated("access token revoked"));
  const VerifiedToken& verified = **entry;
  return std::shared_ptr<const Principal>(std::move(*entry), &verified.principal);
}

Result<Principal> TokenAuthenticator::authenticate_token(std::string_view token) const {
  auto principal = token_principal(token);
  if (!principal) return fail(principal.error());
  return **principal;
}

Result<std::optional<std::string_view>> bearer_credential(const http::Request& req) {
  constexpr std::string_view kAuthorization = "Authorization";
  std::optional<std::string_view> header;
  for (const auto& [name, value] : req.headers) {
    if (name.size() != kAuthorization.size() ||
        strncasecmp(name.data(), kAuthorization.data(), name.size()) != 0)
      continue;
    if (header) return fail(Error::unauthenticated("more than one Authorization header"));
    header = value;
  }
  if (!header) return std::optional<std::string_view>();

  std::string_view h = *header;
  constexpr std::string_view kScheme = "bearer ";
  if (h.size() <= kScheme.size() || strncasecmp(h.data(), kScheme.data(), kScheme.size()) != 0)
    return fail(Error::unauthenticated("expected Authorization: Bearer <token>"));
  std::string_view credential = h.substr(kScheme.size());
  while (!credential.empty() && credential.front() == ' ') credential.remove_prefix(1);
  while (!credential.empty() && credential.back() == ' ') credential.remove_suffix(1);
  if (credential.empty())
    return fail(Error::unauthenticated("expected Authorization: Bearer <token>"));
  return std::optional<std::string_view>(credential);
}

Result<std::shared_ptr<const Principal>> TokenAuthenticator::authenticate(
    const http::Request& req) {
  auto credential = bearer_credential(req);
  if (!credential) return fail(credential.error());
  if (!*credential) return std::shared_ptr<const Principal>();
  if ((*credential)->starts_with(kApiKeyPrefix)) {
    auto p = api_keys_.authenticate(**credential);
    if (!p) return fail(p.error());
    return std::make_shared<const Principal>(std::move(*p));
  }
  return token_principal(**credential);
}

}  // namespace atrium::identity
