// Access-token verification + permission check, the request path's cost before a handler runs
// (PERFORMANCE.md: ≤ 1.5 µs; issue #4: ≤ 2 µs), against libjwt's decode (the reference).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <limits>

#include "access/authorizer.hpp"
#include "access/permissions.hpp"
#include "db/migrations.hpp"
#include "db/open.hpp"
#include "identity/identity.hpp"
#include "platform/ids.hpp"

namespace {

using namespace atrium;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

class FixedClock final : public Clock {
 public:
  TimePoint now() const override { return kNow; }
};

// A realistic token: a tenant admin's twelve permissions (≈ 560 bytes).
identity::AccessClaims claims() {
  identity::AccessClaims c;
  c.sub = new_id();
  c.email = "someone@example.com";
  c.org_id = new_id();
  c.permissions = {"agents:create", "agents:manage", "agents:read",  "apikeys:manage",
                   "audit:read",    "org:read",      "roles:manage", "tasks:cancel",
                   "tasks:create",  "tasks:read",    "users:manage", "users:read"};
  c.iat = 1'800'000'000;
  c.exp = c.iat + 3600;
  c.jti = identity::make_jti(kNow);
  c.sid = new_id();
  return c;
}

const std::vector<JwtKey> kKeys = {{"bench", "a-benchmark-signing-key-of-sufficient-length-00"}};

void BM_VerifyFast(benchmark::State& state) {
  identity::KeyRing keys(kKeys);
  const std::string token = *identity::sign_access_token(keys, claims());
  for (auto _ : state) benchmark::DoNotOptimize(identity::verify_access_token(keys, token, kNow));
  state.SetLabel(std::to_string(token.size()) + " B token");
}
BENCHMARK(BM_VerifyFast);

void BM_VerifyLibjwtReference(benchmark::State& state) {
  identity::KeyRing keys(kKeys);
  const std::string token = *identity::sign_access_token(keys, claims());
  for (auto _ : state)
    benchmark::DoNotOptimize(identity::verify_access_token_reference(keys, token, kNow));
}
BENCHMARK(BM_VerifyLibjwtReference);

// What the middleware does per request: token → Principal (signature, claims, revocation) →
// the route's permission. A client sends the same token for up to an hour, so after its first
// request the verified-token cache answers (time rules and revocations still checked).
void BM_AuthenticateAndAuthorizeCached(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("atrium-bench-" + new_id());
  auto db = db::open("sqlite://" + (dir / "bench.db").string(), {.pool_size = 1});
  if (!db || !db::migrate(**db)) {
    state.SkipWithError("cannot open a database");
    return;
  }
  FixedClock clock;
  identity::IdentityOptions options;
  options.maintenance_interval = std::chrono::milliseconds(0);
  identity::Identity ident(**db, nullptr, clock, kKeys, options);
  // A realistic denylist: a few hundred revoked sessions of others.
  for (int i = 0; i < 300; ++i) ident.revocations().announce(ident.revocations().session(new_id()));
  const std::string token = *identity::sign_access_token(ident.keys(), claims());
  const auto access = http::Access::permission("tasks:read");
  const int index = access::catalog_index(access.permission());  // resolved with the routes
  for (auto _ : state) {
    auto principal = ident.tokens().token_principal(token);  // what a request gets (shared)
    benchmark::DoNotOptimize(access::authorize(access, index, principal->get()));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_AuthenticateAndAuthorizeCached);

// The same for a token seen for the first time: full verification, revocation list (300 revoked
// sessions), Principal, permission check.
void BM_AuthenticateAndAuthorizeFirstUse(benchmark::State& state) {
  identity::KeyRing keys(kKeys);
  identity::RevocationList revoked;
  for (int i = 0; i < 300; ++i) {
    revoked.apply({new_id(), identity::Revocation::Kind::kSession, new_id(), std::nullopt, 0,
                   std::numeric_limits<std::int64_t>::max()});
  }
  const std::string token = *identity::sign_access_token(keys, claims());
  const auto access = http::Access::permission("tasks:read");
  for (auto _ : state) {
    auto c = identity::verify_access_token(keys, token, kNow);
    if (!c || revoked.revoked(*c)) state.SkipWithError("refused");
    Principal p;
    p.user_id = std::move(c->sub);
    p.email = std::move(c->email);
    p.org_id = std::move(c->org_id);
    p.permissions = std::move(c->permissions);
    p.session_id = std::move(c->sid);
    p.catalog_grants = access::compile_grants(p.permissions);
    benchmark::DoNotOptimize(
        access::authorize(access, access::catalog_index(access.permission()), &p));
  }
}
BENCHMARK(BM_AuthenticateAndAuthorizeFirstUse);

void BM_SignLibjwt(benchmark::State& state) {
  identity::KeyRing keys(kKeys);
  const auto c = claims();
  for (auto _ : state) benchmark::DoNotOptimize(identity::sign_access_token(keys, c));
}
BENCHMARK(BM_SignLibjwt);

}  // namespace
