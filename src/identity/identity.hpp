// The identity module assembled: keys, password hashing, throttling, revocation, API keys, the
// authenticator and the routes (API.md, Auth and API keys). app/ builds one and wires it:
//
//   identity::Identity identity(db, &bus, clock, config.jwt_keys, options);
//   identity.start();                         // loads revocations, starts the maintenance loop
//   identity.add_routes(router);
//   Api api(router, metrics, &identity.authenticator(), ...);
//
// Other modules use revocations() when they take permissions away (member removal, role
// change: revocations().member(user, org)) and service().open_session() for flows that end
// signed in. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/event_bus.hpp"
#include "db/database.hpp"
#include "http/router.hpp"
#include "identity/access_token.hpp"
#include "identity/api_keys.hpp"
#include "identity/authenticator.hpp"
#include "identity/hash_pool.hpp"
#include "identity/login_throttle.hpp"
#include "identity/me_cache.hpp"
#include "identity/password.hpp"
#include "identity/revocation.hpp"
#include "identity/service.hpp"
#include "platform/clock.hpp"
#include "platform/config.hpp"

namespace atrium::identity {

struct IdentityOptions {
  PasswordParams password;
  HashPool::Options hashing;
  LoginThrottle::Options throttle;
  // How often revocations are polled and API-key use is written; 0 = no background thread (the
  // owner calls maintain()).
  std::chrono::milliseconds maintenance_interval{2000};
};

class Identity {
 public:
  // `bus` may be null. Throws std::invalid_argument for unusable keys.
  Identity(db::Database& db, broker::EventBus* bus, const Clock& clock, std::vector<JwtKey> keys,
           IdentityOptions options = {});
  ~Identity();  // stops the maintenance loop

  // Loads the live revocations and starts the maintenance loop.
  Result<void> start();
  // One maintenance round: catch up revocations, write API-key use.
  Result<void> maintain();

  void add_routes(http::Router& router);

  // True once the credential behind `principal` has been revoked (for long-lived connections,
  // which authenticated once: the WebSocket checks this about every second).
  bool revoked(const Principal& principal);

  access::Authenticator& authenticator() { return authenticator_; }
  TokenAuthenticator& tokens() { return authenticator_; }
  Service& service() { return service_; }
  ApiKeys& api_keys() { return api_keys_; }
  Revocations& revocations() { return revocations_; }
  // For modules that change names or memberships without revoking anything (creating or
  // renaming an organization, joining one): drops cached GET /api/me views on this replica
  // (other replicas see the change within 2 s).
  MeCache& me_cache() { return me_cache_; }
  // For flows that create accounts (accepting an invitation): hashing on the bounded pool.
  PasswordHasher& passwords() { return passwords_; }
  const KeyRing& keys() const { return keys_; }
  HashPool& hash_pool() { return pool_; }

 private:
  void loop();
  // True when GET /api/me can be answered from memory: a valid bearer access token whose view
  // is cached. Runs on the I/O thread.
  bool me_ready(const http::Request& req) const;

  const IdentityOptions options_;
  KeyRing keys_;
  HashPool pool_;
  PasswordHasher passwords_;
  LoginThrottle throttle_;
  Revocations revocations_;
  MeCache me_cache_;
  ApiKeys api_keys_;
  Service service_;
  TokenAuthenticator authenticator_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace atrium::identity
