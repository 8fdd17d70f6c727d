#include "identity/identity.hpp"

#include "platform/log.hpp"

namespace atrium::identity {

Identity::Identity(db::Database& db, broker::EventBus* bus, const Clock& clock,
                   std::vector<JwtKey> keys, IdentityOptions options)
    : options_(options),
      keys_(std::move(keys)),
      pool_(options_.hashing),
      passwords_(pool_, options_.password),
      throttle_(clock, options_.throttle),
      revocations_(db, bus, clock),
      me_cache_(clock),
      api_keys_(db, revocations_, clock),
      service_(db, keys_, passwords_, throttle_, revocations_, me_cache_, clock),
      authenticator_(keys_, revocations_.list(), api_keys_, clock) {
  revocations_.list().on_apply([this](const Revocation& r) {
    switch (r.kind) {
      case Revocation::Kind::kMember:
      case Revocation::Kind::kUser:
        me_cache_.forget_user(r.subject);
        break;
      case Revocation::Kind::kOrganization:
        me_cache_.forget_organization(r.subject);
        break;
      case Revocation::Kind::kSession:
      case Revocation::Kind::kApiKey:
        break;  // the credential itself stops working
    }
  });
}

bool Identity::me_ready(const http::Request& req) const {
  auto credential = bearer_credential(req);
  if (!credential || !*credential || (*credential)->starts_with(kApiKeyPrefix)) return false;
  // Where the request runs, not whether it may: the authenticate step still checks revocations.
  auto token = authenticator_.verified(**credential);
  return token && me_cache_.contains((*token)->principal);
}

Identity::~Identity() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<void> Identity::start() {
  if (auto r = revocations_.poll(); !r) return r;
  if (options_.maintenance_interval.count() > 0 && !thread_.joinable())
    thread_ = std::thread([this] { loop(); });
  return {};
}

Result<void> Identity::maintain() {
  auto polled = revocations_.poll();
  auto flushed = api_keys_.flush_usage();
  if (!polled) return polled;
  return flushed;
}

void Identity::loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.maintenance_interval, [&] { return stopping_; })) {
    lock.unlock();
    if (auto r = maintain(); !r)
      log::warn("identity maintenance failed", {{"error", r.error().detail}});
    lock.lock();
  }
  lock.unlock();
  // Last use recorded since the previous round is not lost on a clean stop.
  (void)api_keys_.flush_usage();
}

bool Identity::revoked(const Principal& p) {
  if (p.kind == Principal::Kind::kApiKey) return revocations_.list().api_key_revoked(p.api_key_id);
  AccessClaims claims;
  claims.sub = p.user_id;
  claims.org_id = p.org_id;
  claims.sid = p.session_id;
  claims.jti = p.token_id;
  return revocations_.list().revoked(claims);
}

}  // namespace atrium::identity
