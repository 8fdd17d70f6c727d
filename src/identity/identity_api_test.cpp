// The Auth and API-key routes through the application's request path (app::Api, no network), on
// every database backend: every row of API.md's Auth table, the negative token cases, sessions,
// revocation, throttling and API keys.
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <set>

#include "access/seed.hpp"
#include "app/api.hpp"
#include "broker/embedded/embedded_event_bus.hpp"
#include "db/migrations.hpp"
#include "identity/identity.hpp"
#include "platform/base64url.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/fake_clock.hpp"
#include "tenancy/store.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;
using atrium::testing::Backend;
using atrium::testing::FakeClock;
using http::Method;
using nlohmann::json;

const std::vector<JwtKey> kKeys = {{"test-1", "a-test-signing-key-that-is-long-enough-000000"}};
const std::string kPassword = "correct horse battery";

IdentityOptions fast_options() {
  IdentityOptions o;
  o.password = {1,
                64 * 1024};  // cheap Argon2id for tests; the defaults are tested in password_test
  o.hashing = {.threads = 2, .queue_limit = 16};
  o.throttle = {.per_account = 5, .per_address = 20, .window = 300s};
  o.maintenance_interval = 0ms;  // tests call maintain()
  return o;
}

struct Reply {
  int status = 0;
  http::Headers headers;
  json body;
};

// One replica: the identity module behind the application's middleware chain.
struct Node {
  Node(db::Database& db, broker::EventBus* bus, const Clock& clock)
      : identity(db, bus, clock, kKeys, fast_options()) {
    EXPECT_TRUE(identity.start());
    http::Router router;
    identity.add_routes(router);
    api = std::make_unique<app::Api>(std::move(router), metrics, &identity.authenticator(),
                                     app::ApiOptions{"/nonexistent", {}});
  }

  Reply call(Method method, std::string target, const std::optional<json>& body = std::nullopt,
             const std::string& bearer = {}, const std::string& ip = "10.0.0.1") {
    http::Request req;
    req.method = method;
    req.method_text = std::string(http::method_name(method));
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    if (body) {
      req.body = body->dump();
      req.headers.add("Content-Type", "application/json");
    }
    if (!bearer.empty()) req.headers.add("Authorization", "Bearer " + bearer);
    req.headers.add("User-Agent", "identity-test");
    req.remote_ip = ip;
    auto res = api->handle(req);
    Reply r{res.status, res.headers, json()};
    if (!res.body.empty()) r.body = json::parse(res.body, nullptr, false);
    return r;
  }

  metrics::Registry metrics;
  Identity identity;
  std::unique_ptr<app::Api> api;
};

class IdentityApi : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create();
    ASSERT_TRUE(db::migrate(db()));
    ASSERT_TRUE(access::seed(db()));
    node_ = std::make_unique<Node>(app(), &bus_, clock_);
  }

  // The owner: migrations, the seed, and the test's own inspection and changes.
  db::Database& db() { return *t_->db; }
  // As `atrium serve` connects: under row-level security on PostgreSQL.
  db::Database& app() { return *t_->app; }
  Node& node() { return *node_; }

  Reply call(Method m, std::string target, const std::optional<json>& body = std::nullopt,
             const std::string& bearer = {}, const std::string& ip = "10.0.0.1") {
    return node_->call(m, std::move(target), body, bearer, ip);
  }

  json signup(const std::string& email, const std::string& org = "Acme") {
    auto r = call(Method::kPost, "/api/auth/signup",
                  json{{"email", email},
                       {"password", kPassword},
                       {"name", "Someone"},
                       {"organization_name", org}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }

  Reply login(const std::string& email, const std::string& password = kPassword,
              const std::optional<std::string>& org = std::nullopt,
              const std::string& ip = "10.0.0.1") {
    json body = {{"email", email}, {"password", password}};
    if (org) body["organization_id"] = *org;
    return call(Method::kPost, "/api/auth/login", body, {}, ip);
  }

  // Adds an existing user to an organization with a role (the tenancy routes do this later).
  void add_member(const std::string& org_id, const std::string& user_id, const std::string& role) {
    ASSERT_TRUE(db().transact({.tenant = org_id}, [&](db::Tx& tx) {
      return tenancy::add_member(tx, org_id, user_id, role, std::chrono::system_clock::now());
    }));
  }

  std::int64_t count(const std::string& table, const std::string& where = "1 = 1") {
    auto r = db().transact({.read_only = true, .cross_tenant_read = "test"}, [&](db::Tx& tx) {
      return tx.query_one("SELECT COUNT(*) FROM " + table + " WHERE " + where);
    });
    EXPECT_TRUE(r && *r);
    return r && *r ? (**r).integer(0) : -1;
  }

  // Every table a request could write, for "changes nothing".
  std::vector<std::int64_t> snapshot() {
    std::vector<std::int64_t> out;
    for (const char* t : {"users", "organizations", "user_organization_roles", "refresh_tokens",
                          "api_keys", "audit_log", "token_revocations"})
      out.push_back(count(t));
    out.push_back(count("refresh_tokens", "revoked_at IS NOT NULL OR replaced_by IS NOT NULL"));
    return out;
  }

  static void expect_problem(const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body.dump();
    EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.body.value("code", ""), code) << r.body.dump();
  }

  std::unique_ptr<atrium::testing::TestDatabase> t_;
  FakeClock clock_{TimePoint(std::chrono::system_clock::now())};
  broker::EmbeddedEventBus bus_;
  std::unique_ptr<Node> node_;
};

void expect_bundle(const json& b) {
  EXPECT_TRUE(b["access_token"].is_string());
  EXPECT_EQ(b["token_type"], "Bearer");
  EXPECT_EQ(b["expires_in"], 3600);
  EXPECT_TRUE(b["refresh_token"].is_string());
  EXPECT_GE(b["refresh_token"].get<std::string>().size(), 43u);  // ≥ 256 bits
  EXPECT_TRUE(b["user"]["id"].is_string());
  EXPECT_TRUE(b["user"]["email"].is_string());
  EXPECT_TRUE(b["user"]["name"].is_string());
  EXPECT_TRUE(b["permissions"].is_array());
  EXPECT_TRUE(b.contains("organization"));
}

// --- POST /api/auth/signup ---------------------------------------------------------------------

TEST_P(IdentityApi, SignupCreatesUserOrganizationAndAdminMembership) {
  auto b = signup("Alice@Example.com", "Acme Corp");
  expect_bundle(b);
  EXPECT_EQ(b["user"]["email"], "alice@example.com");
  EXPECT_EQ(b["user"]["name"], "Someone");
  EXPECT_EQ(b["organization"]["name"], "Acme Corp");
  EXPECT_EQ(b["organization"]["slug"], "acme-corp");
  EXPECT_EQ(b["permissions"],
            json({"agents:create", "agents:manage", "agents:read", "apikeys:manage", "audit:read",
                  "org:read", "roles:manage", "tasks:cancel", "tasks:create", "tasks:read",
                  "users:manage", "users:read"}));
  // The access token carries the contract's claims.
  auto claims = verify_access_token(node().identity.keys(), b["access_token"].get<std::string>(),
                                    clock_.now());
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->sub, b["user"]["id"]);
  EXPECT_EQ(claims->org_id, b["organization"]["id"].get<std::string>());
  EXPECT_EQ(claims->email, "alice@example.com");
  EXPECT_FALSE(claims->sid.empty());

  const std::string user = b["user"]["id"];
  const std::string org = b["organization"]["id"];
  EXPECT_EQ(count("user_organization_roles",
                  "user_id = '" + user + "' AND organization_id = '" + org +
                      "' AND role_id = (SELECT id FROM roles WHERE name = 'TENANT_ADMIN')"),
            1);
  EXPECT_EQ(count("audit_log", "action = 'auth.signup' AND actor_id = '" + user +
                                   "' AND organization_id = '" + org + "'"),
            1);
  EXPECT_EQ(count("audit_log", "action = 'org.create' AND target_id = '" + org + "'"), 1);
  // No secret is stored in the clear.
  EXPECT_EQ(count("users", "password_hash LIKE '$argon2id$%'"), 1);
  EXPECT_EQ(count("refresh_tokens", "token_hash = '" + b["refresh_token"].get<std::string>() + "'"),
            0);
  EXPECT_EQ(count("audit_log",
                  "CAST(details AS TEXT) LIKE '%" + b["refresh_token"].get<std::string>() + "%'"),
            0);
}

TEST_P(IdentityApi, SignupRefusesDuplicatesAndBadInput) {
  signup("bob@example.com");
  const auto before = snapshot();
  expect_problem(
      call(Method::kPost, "/api/auth/signup",
           json{{"email", "BOB@example.com"}, {"password", kPassword}, {"organization_name", "X"}}),
      409, "conflict");

  auto bad = call(Method::kPost, "/api/auth/signup",
                  json{{"email", "not-an-email"}, {"password", "short"}, {"surname", "x"}});
  expect_problem(bad, 400, "invalid_request");
  std::set<std::string> fields;
  for (const auto& e : bad.body["errors"]) fields.insert(e["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"email", "password", "organization_name", "surname"}));

  const auto pw = [&](std::string p) {
    return call(Method::kPost, "/api/auth/signup",
                json{{"email", "carol@example.com"}, {"password", p}, {"organization_name", "C"}});
  };
  expect_problem(pw(std::string(9, 'x')), 400, "invalid_request");
  expect_problem(pw(std::string(129, 'x')), 400, "invalid_request");
  expect_problem(call(Method::kPost, "/api/auth/signup", std::nullopt), 400, "invalid_request");
  auto malformed = [&] {
    http::Request req;
    req.method = Method::kPost;
    req.method_text = "POST";
    req.path = "/api/auth/signup";
    req.body = "{\"email\": ";
    req.headers.add("Content-Type", "application/json");
    return node().api->handle(req);
  }();
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(snapshot(), before);
  // 10 and 128 characters are the bounds, counted as characters, not bytes.
  EXPECT_EQ(pw(std::string(10, 'x')).status, 201);
  auto unicode = call(
      Method::kPost, "/api/auth/signup",
      json{{"email", "dave@example.com"}, {"password", "éééééééééé"}, {"organization_name", "D"}});
  EXPECT_EQ(unicode.status, 201);
}

// --- POST /api/auth/login ----------------------------------------------------------------------

TEST_P(IdentityApi, LoginPicksTheRequestedOrFirstOrganization) {
  auto first = signup("erin@example.com", "First");
  auto other = signup("frank@example.com", "Second");
  const std::string erin = first["user"]["id"];
  add_member(other["organization"]["id"], erin, "USER");

  auto r = login("ERIN@example.com");
  ASSERT_EQ(r.status, 200);
  expect_bundle(r.body);
  EXPECT_EQ(r.body["organization"]["id"], first["organization"]["id"]);

  auto chosen =
      login("erin@example.com", kPassword, other["organization"]["id"].get<std::string>());
  ASSERT_EQ(chosen.status, 200);
  EXPECT_EQ(chosen.body["organization"]["id"], other["organization"]["id"]);
  EXPECT_EQ(chosen.body["permissions"],
            json({"agents:read", "org:read", "tasks:create", "tasks:read", "users:read"}));

  auto stranger = signup("gina@example.com", "Third");
  expect_problem(
      login("erin@example.com", kPassword, stranger["organization"]["id"].get<std::string>()), 404,
      "not_found");
  expect_problem(login("erin@example.com", kPassword, "not-an-id"), 404, "not_found");
  EXPECT_EQ(count("audit_log", "action = 'auth.login' AND actor_id = '" + erin + "'"), 2);
}

TEST_P(IdentityApi, SuperAdminWithoutOrganizationGetsNullOrganization) {
  // As `atrium create-superadmin` does: with the owner's database (global rows are the owner's).
  Node owner(db(), nullptr, clock_);
  auto admin = owner.identity.service().create_superadmin("root@example.com", kPassword);
  ASSERT_TRUE(admin);
  auto r = login("root@example.com");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body["organization"].is_null());
  EXPECT_EQ(r.body["permissions"], json({"*"}));
  auto claims = verify_access_token(node().identity.keys(),
                                    r.body["access_token"].get<std::string>(), clock_.now());
  ASSERT_TRUE(claims);
  EXPECT_FALSE(claims->org_id);
  // ... and may enter any organization.
  auto org = signup("owner@example.com", "Owned");
  auto in = login("root@example.com", kPassword, org["organization"]["id"].get<std::string>());
  ASSERT_EQ(in.status, 200);
  EXPECT_EQ(in.body["organization"]["id"], org["organization"]["id"]);
}

TEST_P(IdentityApi, WrongPasswordAndUnknownEmailAnswerTheSame) {
  signup("henry@example.com");
  const auto before_sessions = count("refresh_tokens");
  auto wrong = login("henry@example.com", "wrong password!!");
  auto unknown = login("nobody@example.com", "wrong password!!");
  expect_problem(wrong, 401, "invalid_credentials");
  expect_problem(unknown, 401, "invalid_credentials");
  auto strip = [](json b) {
    b.erase("request_id");
    return b;
  };
  EXPECT_EQ(strip(wrong.body), strip(unknown.body));
  EXPECT_EQ(wrong.headers.size(), unknown.headers.size());
  EXPECT_EQ(count("refresh_tokens"), before_sessions);
  EXPECT_EQ(count("audit_log", "action = 'auth.login_failed'"), 2);
  EXPECT_EQ(count("audit_log",
                  "action = 'auth.login_failed' AND CAST(details AS TEXT) LIKE '%wrong password%'"),
            0);
  // Shape errors are the same for every account too.
  expect_problem(call(Method::kPost, "/api/auth/login", json{{"email", "henry@example.com"}}), 400,
                 "invalid_request");
}

TEST_P(IdentityApi, LoginIsThrottledPerAccountAndPerAddress) {
  signup("ivan@example.com");
  for (int i = 0; i < 5; ++i)
    expect_problem(login("ivan@example.com", "wrong password " + std::to_string(i)), 401,
                   "invalid_credentials");
  // Even the right password is refused while blocked; the answer says when to come back.
  auto blocked = login("ivan@example.com");
  expect_problem(blocked, 429, "rate_limited");
  EXPECT_EQ(blocked.headers.get("Retry-After"), "300");
  clock_.advance(301s);
  EXPECT_EQ(login("ivan@example.com").status, 200);

  // One address failing against many accounts (known or not) is blocked as well.
  for (int i = 0; i < 20; ++i)
    login("user" + std::to_string(i) + "@example.com", "whatever123", std::nullopt, "6.6.6.6");
  auto from_attacker = login("ivan@example.com", kPassword, std::nullopt, "6.6.6.6");
  expect_problem(from_attacker, 429, "rate_limited");
  EXPECT_EQ(login("ivan@example.com", kPassword, std::nullopt, "7.7.7.7").status, 200);
}

TEST_P(IdentityApi, LoginUpgradesAnOldHash) {
  auto b = signup("judy@example.com");
  const std::string user = b["user"]["id"];
  HashPool pool({.threads = 1, .queue_limit = 1});
  PasswordHasher weak(pool, {1, 32 * 1024});
  auto old_hash = weak.hash(kPassword);
  ASSERT_TRUE(old_hash);
  ASSERT_TRUE(db().transact({}, [&](db::Tx& tx) {
    return store::set_password_hash(tx, user, *old_hash, std::chrono::system_clock::now());
  }));
  ASSERT_EQ(login("judy@example.com").status, 200);
  EXPECT_EQ(
      count("users", "id = '" + user + "' AND password_hash LIKE '$argon2id$v=19$m=64,t=1,p=1$%'"),
      1);
  EXPECT_EQ(login("judy@example.com").status, 200);
}

// --- POST /api/auth/refresh and /logout --------------------------------------------------------

TEST_P(IdentityApi, RefreshRotatesAndReuseRevokesTheFamily) {
  auto b = signup("kate@example.com");
  const std::string first = b["refresh_token"];
  auto r1 = call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", first}});
  ASSERT_EQ(r1.status, 200) << r1.body.dump();
  expect_bundle(r1.body);
  const std::string second = r1.body["refresh_token"];
  EXPECT_NE(second, first);
  const std::string access = r1.body["access_token"];
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, access).status, 200);

  // The spent token comes back: 401, the whole family dies, and it is audited.
  expect_problem(call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", first}}), 401,
                 "unauthenticated");
  expect_problem(call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", second}}), 401,
                 "unauthenticated");
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, access), 401, "unauthenticated");
  EXPECT_EQ(count("audit_log", "action = 'auth.refresh_reuse'"), 1);
  EXPECT_EQ(count("refresh_tokens", "revoked_at IS NULL"), 0);

  // Garbage and expired tokens.
  expect_problem(call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", "nope"}}), 401,
                 "unauthenticated");
  expect_problem(call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", 42}}), 400,
                 "invalid_request");
  auto fresh = login("kate@example.com");
  clock_.advance(kRefreshTokenTtl + 1s);
  expect_problem(call(Method::kPost, "/api/auth/refresh",
                      json{{"refresh_token", fresh.body["refresh_token"]}}),
                 401, "unauthenticated");
}

TEST_P(IdentityApi, RefreshCarriesNewPermissionsAndEndsForRemovedMembers) {
  auto owner = signup("leo@example.com", "Leo Org");
  auto member = signup("mia@example.com", "Mia Org");
  const std::string org = owner["organization"]["id"];
  const std::string mia = member["user"]["id"];
  add_member(org, mia, "USER");
  auto in = login("mia@example.com", kPassword, org);
  ASSERT_EQ(in.status, 200);

  // Promotion: the change is announced, the old token is cut off, a refresh sees the new role.
  add_member(org, mia, "TENANT_ADMIN");
  auto& revocations = node().identity.revocations();
  clock_.advance(1ms);
  auto change = revocations.member(mia, org);
  ASSERT_TRUE(db().transact({}, [&](db::Tx& tx) { return revocations.stage(tx, change); }));
  revocations.announce(change);
  clock_.advance(1ms);
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, in.body["access_token"]), 401,
                 "unauthenticated");
  auto refreshed =
      call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", in.body["refresh_token"]}});
  ASSERT_EQ(refreshed.status, 200);
  EXPECT_NE(std::find(refreshed.body["permissions"].begin(), refreshed.body["permissions"].end(),
                      "users:manage"),
            refreshed.body["permissions"].end());
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, refreshed.body["access_token"]).status,
            200);

  // Removal: the session cannot be refreshed any more.
  ASSERT_TRUE(db().transact({.tenant = org}, [&](db::Tx& tx) {
    return tx.execute(
        "DELETE FROM user_organization_roles WHERE user_id = $1 AND organization_id = $2",
        {mia, org});
  }));
  expect_problem(call(Method::kPost, "/api/auth/refresh",
                      json{{"refresh_token", refreshed.body["refresh_token"]}}),
                 401, "unauthenticated");
}

TEST_P(IdentityApi, LogoutKillsTheSessionOnEveryReplicaWithinFiveSeconds) {
  // A second replica on the same database and bus.
  Node other(app(), &bus_, clock_);
  auto b = signup("nina@example.com");
  const std::string access = b["access_token"];
  ASSERT_EQ(call(Method::kGet, "/api/me", std::nullopt, access).status, 200);
  ASSERT_EQ(other.call(Method::kGet, "/api/me", std::nullopt, access).status, 200);

  auto out = call(Method::kPost, "/api/auth/logout", json{{"refresh_token", b["refresh_token"]}});
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(count("audit_log", "action = 'auth.logout'"), 1);
  // Here at once; on the other replica within 5 s (the bus; polling is the safety net).
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, access), 401, "unauthenticated");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 200;
  while (status != 401 && std::chrono::steady_clock::now() < deadline) {
    status = other.call(Method::kGet, "/api/me", std::nullopt, access).status;
    if (status != 401) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(status, 401);
  expect_problem(
      call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", b["refresh_token"]}}), 401,
      "unauthenticated");
  // Logging out again (or with an unknown token) is harmless.
  EXPECT_EQ(
      call(Method::kPost, "/api/auth/logout", json{{"refresh_token", b["refresh_token"]}}).status,
      204);
  EXPECT_EQ(call(Method::kPost, "/api/auth/logout", json{{"refresh_token", "unknown"}}).status,
            204);
  expect_problem(call(Method::kPost, "/api/auth/logout", json::object()), 400, "invalid_request");
}

TEST_P(IdentityApi, ARevocationMissedOnTheBusIsCaughtUpByPolling) {
  Node isolated(app(), nullptr, clock_);  // hears no events
  auto b = signup("olga@example.com");
  const std::string access = b["access_token"];
  ASSERT_EQ(isolated.call(Method::kGet, "/api/me", std::nullopt, access).status, 200);
  ASSERT_EQ(
      call(Method::kPost, "/api/auth/logout", json{{"refresh_token", b["refresh_token"]}}).status,
      204);
  EXPECT_EQ(isolated.call(Method::kGet, "/api/me", std::nullopt, access).status, 200);
  ASSERT_TRUE(isolated.identity.maintain());  // what its 2-second loop does
  EXPECT_EQ(isolated.call(Method::kGet, "/api/me", std::nullopt, access).status, 401);
}

// --- POST /api/auth/switch and GET /api/me -----------------------------------------------------

TEST_P(IdentityApi, SwitchReissuesTokensForAnotherMembership) {
  auto a = signup("pat@example.com", "Pat A");
  auto other = signup("quinn@example.com", "Quinn B");
  const std::string pat = a["user"]["id"];
  add_member(other["organization"]["id"], pat, "USER");
  const std::string token = a["access_token"];

  auto sw = call(Method::kPost, "/api/auth/switch",
                 json{{"organization_id", other["organization"]["id"]}}, token);
  ASSERT_EQ(sw.status, 200) << sw.body.dump();
  expect_bundle(sw.body);
  EXPECT_EQ(sw.body["organization"]["id"], other["organization"]["id"]);
  auto me = call(Method::kGet, "/api/me", std::nullopt, sw.body["access_token"]);
  EXPECT_EQ(me.body["organization"]["id"], other["organization"]["id"]);

  auto stranger = signup("ruth@example.com", "Ruth C");
  expect_problem(call(Method::kPost, "/api/auth/switch",
                      json{{"organization_id", stranger["organization"]["id"]}}, token),
                 404, "not_found");
  expect_problem(
      call(Method::kPost, "/api/auth/switch", json{{"organization_id", new_id()}}, token), 404,
      "not_found");
  expect_problem(call(Method::kPost, "/api/auth/switch",
                      json{{"organization_id", other["organization"]["id"]}}),
                 401, "unauthenticated");
  expect_problem(call(Method::kPost, "/api/auth/switch", json::object(), token), 400,
                 "invalid_request");
}

TEST_P(IdentityApi, MeDescribesTheCaller) {
  auto a = signup("sam@example.com", "Sam Org");
  auto other = signup("tess@example.com", "Tess Org");
  add_member(other["organization"]["id"], a["user"]["id"], "USER");
  auto me = call(Method::kGet, "/api/me", std::nullopt, a["access_token"]);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["user"],
            json({{"id", a["user"]["id"]}, {"email", "sam@example.com"}, {"name", "Someone"}}));
  EXPECT_EQ(me.body["organization"]["id"], a["organization"]["id"]);
  EXPECT_EQ(me.body["organization"]["slug"], "sam-org");
  EXPECT_EQ(me.body["permissions"], a["permissions"]);
  ASSERT_EQ(me.body["memberships"].size(), 2u);
  EXPECT_EQ(me.body["memberships"][0]["organization"]["id"], a["organization"]["id"]);
  EXPECT_EQ(me.body["memberships"][0]["roles"], json({"TENANT_ADMIN"}));
  EXPECT_EQ(me.body["memberships"][1]["roles"], json({"USER"}));
  expect_problem(call(Method::kGet, "/api/me"), 401, "unauthenticated");
}

TEST_P(IdentityApi, MeIsAnsweredInlineOnceTheViewIsCached) {
  auto a = signup("cy@example.com", "Cy Org");
  auto request = [&](const std::string& bearer) {
    http::Request req;
    req.method = Method::kGet;
    req.method_text = "GET";
    req.path = "/api/me";
    req.headers.add("Authorization", "Bearer " + bearer);
    return req;
  };
  auto req = request(a["access_token"]);
  EXPECT_TRUE(node().api->may_block(req));  // nothing cached: the handler reads the store
  auto first = node().api->handle(req);
  ASSERT_EQ(first.status, 200);
  auto again = request(a["access_token"]);
  EXPECT_FALSE(node().api->may_block(again));  // cached: answered on the I/O thread
  auto second = node().api->handle(again);
  EXPECT_EQ(second.body, first.body);

  // Bad tokens and API keys take the blocking path (and answer as before).
  auto bad = request("not-a-token");
  EXPECT_TRUE(node().api->may_block(bad));
  auto key = call(Method::kPost, "/api/api-keys",
                  json{{"name", "k"}, {"permissions", {"org:read"}}}, a["access_token"]);
  auto by_key = request(key.body["key"]);
  EXPECT_TRUE(node().api->may_block(by_key));

  // A rename elsewhere shows within the cache's 2 s, at once where the module says so.
  const std::string org = a["organization"]["id"];
  ASSERT_TRUE(db().transact({.tenant = org}, [&](db::Tx& tx) {
    return tx.execute("UPDATE organizations SET name = 'Renamed' WHERE id = $1", {org});
  }));
  EXPECT_EQ(
      call(Method::kGet, "/api/me", std::nullopt, a["access_token"]).body["organization"]["name"],
      "Cy Org");
  clock_.advance(2s);
  EXPECT_EQ(
      call(Method::kGet, "/api/me", std::nullopt, a["access_token"]).body["organization"]["name"],
      "Renamed");
  ASSERT_TRUE(db().transact({.tenant = org}, [&](db::Tx& tx) {
    return tx.execute("UPDATE organizations SET name = 'Again' WHERE id = $1", {org});
  }));
  node().identity.me_cache().forget_organization(org);
  EXPECT_EQ(
      call(Method::kGet, "/api/me", std::nullopt, a["access_token"]).body["organization"]["name"],
      "Again");
}

// --- Negative token cases: each is 401 unauthenticated and changes nothing ----------------------

std::string sign_raw(const std::string& header, const std::string& payload,
                     const std::string& key) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

TEST_P(IdentityApi, BadTokensAreUnauthenticatedAndChangeNothing) {
  auto b = signup("uma@example.com");
  const std::string good = b["access_token"];
  const std::string key = kKeys[0].secret;
  auto claims = *verify_access_token(node().identity.keys(), good, clock_.now());
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  json p = {{"iss", "atrium"},
            {"aud", "atrium"},
            {"sub", claims.sub},
            {"email", claims.email},
            {"org_id", *claims.org_id},
            {"permissions", json::array({"*"})},
            {"iat", now},
            {"exp", now + 3600},
            {"jti", make_jti(clock_.now())},
            {"sid", claims.sid}};
  const std::string h = R"({"alg":"HS256","kid":"test-1","typ":"JWT"})";
  auto with = [&](const char* claim, json v) {
    auto q = p;
    q[claim] = std::move(v);
    return sign_raw(h, q.dump(), key);
  };
  auto without = [&](const char* claim) {
    auto q = p;
    q.erase(claim);
    return sign_raw(h, q.dump(), key);
  };
  const auto dot2 = good.rfind('.');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alg none", base64url_encode(R"({"alg":"none","kid":"test-1"})") + "." +
                       base64url_encode(p.dump()) + "."},
      {"alg nOnE", sign_raw(R"({"alg":"nOnE","kid":"test-1"})", p.dump(), key)},
      {"alg HS384", sign_raw(R"({"alg":"HS384","kid":"test-1"})", p.dump(), key)},
      {"empty signature", good.substr(0, dot2 + 1)},
      {"truncated signature", good.substr(0, good.size() - 3)},
      {"wrong key", sign_raw(h, p.dump(), "another-key-that-is-long-enough-000000000000")},
      {"unknown kid", sign_raw(R"({"alg":"HS256","kid":"test-9"})", p.dump(), key)},
      {"kid with a path",
       sign_raw(R"({"alg":"HS256","kid":"../../../data/jwt_keys"})", p.dump(), key)},
      {"kid with SQL",
       sign_raw(R"({"alg":"HS256","kid":"x'; DROP TABLE users; --"})", p.dump(), key)},
      {"jwk header", sign_raw(R"({"alg":"HS256","kid":"test-1","jwk":{"kty":"oct","k":"ZXZpbA"}})",
                              p.dump(), "evil")},
      {"jku header",
       sign_raw(R"({"alg":"HS256","jku":"http://127.0.0.1:1/keys"})", p.dump(), "evil")},
      {"x5u header",
       sign_raw(R"({"alg":"HS256","x5u":"http://127.0.0.1:1/cert"})", p.dump(), "evil")},
      {"expired", with("exp", now - 120)},
      {"nbf in the future", with("nbf", now + 600)},
      {"wrong iss", with("iss", "seed")},
      {"wrong aud", with("aud", "seed")},
      {"missing sub", without("sub")},
      {"missing exp", without("exp")},
      {"missing sid", without("sid")},
      {"missing permissions", without("permissions")},
      {"tampered payload",
       good.substr(0, good.find('.')) + "." + base64url_encode(p.dump()) + good.substr(dot2)},
      {"refresh token as access token", b["refresh_token"]},
      {"non-base64url garbage", "%%%.^^^.&&&"},
      {"oversized token", std::string(kMaxTokenBytes + 10, 'A')},
      {"random bytes", random_token(200)},
      {"API key that does not exist", "atr_" + random_token(32)},
      {"API key of the wrong length", "atr_abc"},
  };
  ASSERT_GE(cases.size(), 20u);
  const auto before = snapshot();
  for (const auto& [name, token] : cases) {
    auto r = call(Method::kGet, "/api/me", std::nullopt, token);
    EXPECT_EQ(r.status, 401) << name;
    EXPECT_EQ(r.body.value("code", ""), "unauthenticated") << name;
    auto w = call(Method::kPost, "/api/api-keys",
                  json{{"name", "x"}, {"permissions", {"org:read"}}}, token);
    EXPECT_EQ(w.status, 401) << name;
  }
  EXPECT_EQ(snapshot(), before);

  // Credentials only count in the Authorization header, with the Bearer scheme.
  for (const std::string& target : {"/api/me?access_token=" + good, "/api/me?token=" + good})
    expect_problem(call(Method::kGet, target), 401, "unauthenticated");
  for (const std::string& header :
       std::vector<std::string>{"Basic " + good, good, "Bearer", "Bearer  "}) {
    http::Request req;
    req.method = Method::kGet;
    req.method_text = "GET";
    req.path = "/api/me";
    req.headers.add("Authorization", header);
    EXPECT_EQ(node().api->handle(req).status, 401) << header;
  }
  http::Request twice;
  twice.method = Method::kGet;
  twice.method_text = "GET";
  twice.path = "/api/me";
  twice.headers.add("Authorization", "Bearer " + good);
  twice.headers.add("Authorization", "Bearer " + good);
  EXPECT_EQ(node().api->handle(twice).status, 401);
  // The good token still works (and the scheme is case-insensitive).
  http::Request lower;
  lower.method = Method::kGet;
  lower.method_text = "GET";
  lower.path = "/api/me";
  lower.headers.add("authorization", "bearer " + good);
  EXPECT_EQ(node().api->handle(lower).status, 200);
}

// --- API keys -----------------------------------------------------------------------------------

TEST_P(IdentityApi, ApiKeyLifecycle) {
  auto a = signup("vera@example.com", "Vera Org");
  const std::string token = a["access_token"];

  auto created = call(Method::kPost, "/api/api-keys",
                      json{{"name", "ci"},
                           {"permissions", {"agents:read", "agents:create", "apikeys:manage"}},
                           {"expires_in_days", 30}},
                      token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  const std::string key = created.body["key"];
  const std::string id = created.body["id"];
  EXPECT_TRUE(key.starts_with("atr_"));
  EXPECT_EQ(created.body["name"], "ci");
  EXPECT_EQ(created.body["permissions"], json({"agents:read", "agents:create", "apikeys:manage"}));
  EXPECT_TRUE(created.body["expires_at"].is_string());
  EXPECT_EQ(count("api_keys", "key_hash = '" + key + "'"), 0);  // hashed at rest
  EXPECT_EQ(count("audit_log", "action = 'apikey.create' AND target_id = '" + id + "'"), 1);

  // The key is a principal of its organization with its (concrete) permissions.
  auto me = call(Method::kGet, "/api/me", std::nullopt, key);
  ASSERT_EQ(me.status, 200) << me.body.dump();
  EXPECT_EQ(me.body["organization"]["id"], a["organization"]["id"]);
  EXPECT_EQ(me.body["api_key"]["id"], id);
  EXPECT_EQ(me.body["permissions"], json({"agents:create", "agents:read", "apikeys:manage"}));
  ASSERT_EQ(me.body["memberships"].size(), 1u);

  // Listed without secrets; last use recorded by the maintenance round.
  ASSERT_TRUE(node().identity.maintain());
  auto list = call(Method::kGet, "/api/api-keys", std::nullopt, token);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_FALSE(list.body["items"][0].contains("key"));
  EXPECT_EQ(list.body["items"][0]["prefix"], key.substr(0, 12));
  EXPECT_TRUE(list.body["items"][0]["last_used_at"].is_string());
  EXPECT_TRUE(list.body["next_cursor"].is_null());
  EXPECT_EQ(list.body.dump().find(key), std::string::npos);

  // A key cannot mint keys; and keys can be listed with a key holding apikeys:manage.
  expect_problem(call(Method::kPost, "/api/api-keys",
                      json{{"name", "x"}, {"permissions", {"agents:read"}}}, key),
                 403, "permission_denied");
  EXPECT_EQ(call(Method::kGet, "/api/api-keys", std::nullopt, key).status, 200);

  // Revocation takes effect at once; a second revocation finds nothing.
  EXPECT_EQ(call(Method::kDelete, "/api/api-keys/" + id, std::nullopt, token).status, 204);
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, key), 401, "unauthenticated");
  expect_problem(call(Method::kDelete, "/api/api-keys/" + id, std::nullopt, token), 404,
                 "not_found");
  EXPECT_EQ(count("audit_log", "action = 'apikey.revoke' AND target_id = '" + id + "'"), 1);
  EXPECT_TRUE(call(Method::kGet, "/api/api-keys", std::nullopt, token).body["items"].empty());
}

TEST_P(IdentityApi, ApiKeysStayWithinTheCreatorsPermissionsAndTenant) {
  auto a = signup("will@example.com", "Will Org");
  auto b = signup("xena@example.com", "Xena Org");
  const std::string token = a["access_token"];
  const auto before = snapshot();
  expect_problem(call(Method::kPost, "/api/api-keys",
                      json{{"name", "x"}, {"permissions", {"org:manage"}}}, token),
                 403, "privilege_escalation");
  expect_problem(
      call(Method::kPost, "/api/api-keys", json{{"name", "x"}, {"permissions", {"*"}}}, token), 403,
      "privilege_escalation");
  expect_problem(call(Method::kPost, "/api/api-keys",
                      json{{"name", "x"}, {"permissions", {"nope:read"}}}, token),
                 400, "invalid_request");
  expect_problem(call(Method::kPost, "/api/api-keys",
                      json{{"name", "x"}, {"permissions", json::array()}}, token),
                 400, "invalid_request");
  expect_problem(
      call(Method::kPost, "/api/api-keys",
           json{{"name", "x"}, {"permissions", {"org:read"}}, {"expires_in_days", 0}}, token),
      400, "invalid_request");
  EXPECT_EQ(snapshot(), before);

  // Another tenant's key: invisible, and 404 to revoke.
  auto theirs = call(Method::kPost, "/api/api-keys",
                     json{{"name", "b"}, {"permissions", {"org:read"}}}, b["access_token"]);
  ASSERT_EQ(theirs.status, 201);
  expect_problem(call(Method::kDelete, "/api/api-keys/" + theirs.body["id"].get<std::string>(),
                      std::nullopt, token),
                 404, "not_found");
  expect_problem(call(Method::kDelete, "/api/api-keys/not-an-id", std::nullopt, token), 404,
                 "not_found");
  EXPECT_TRUE(call(Method::kGet, "/api/api-keys", std::nullopt, token).body["items"].empty());
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, theirs.body["key"]).status, 200);

  // Without apikeys:manage: 403, before anything else is looked at.
  add_member(b["organization"]["id"], a["user"]["id"], "USER");
  auto as_user = login("will@example.com", kPassword, b["organization"]["id"].get<std::string>());
  expect_problem(call(Method::kGet, "/api/api-keys", std::nullopt, as_user.body["access_token"]),
                 403, "permission_denied");
  expect_problem(call(Method::kDelete, "/api/api-keys/" + new_id(), std::nullopt,
                      as_user.body["access_token"]),
                 403, "permission_denied");
}

TEST_P(IdentityApi, ApiKeysExpireAndDieWithTheirCreatorsMembership) {
  auto a = signup("yuri@example.com", "Yuri Org");
  auto b = signup("zoe@example.com", "Zoe Org");
  const std::string org = b["organization"]["id"];
  const std::string yuri = a["user"]["id"];
  add_member(org, yuri, "TENANT_ADMIN");
  auto in = login("yuri@example.com", kPassword, org);
  auto short_lived =
      call(Method::kPost, "/api/api-keys",
           json{{"name", "day"}, {"permissions", {"tasks:read"}}, {"expires_in_days", 1}},
           in.body["access_token"]);
  auto lasting =
      call(Method::kPost, "/api/api-keys", json{{"name", "long"}, {"permissions", {"tasks:read"}}},
           in.body["access_token"]);
  ASSERT_EQ(short_lived.status, 201);
  ASSERT_EQ(lasting.status, 201);
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, short_lived.body["key"]).status, 200);
  clock_.advance(25h);
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, short_lived.body["key"]), 401,
                 "unauthenticated");
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, lasting.body["key"]).status, 200);

  // The creator leaves the organization: their key stops at once (the change is announced).
  ASSERT_TRUE(db().transact({.tenant = org}, [&](db::Tx& tx) {
    return tx.execute(
        "DELETE FROM user_organization_roles WHERE user_id = $1 AND organization_id = $2",
        {yuri, org});
  }));
  node().identity.revocations().announce(node().identity.revocations().member(yuri, org));
  expect_problem(call(Method::kGet, "/api/me", std::nullopt, lasting.body["key"]), 401,
                 "unauthenticated");
}

TEST_P(IdentityApi, ApiKeyListsArePaginated) {
  auto a = signup("abe@example.com");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = call(Method::kPost, "/api/api-keys",
                  json{{"name", "k" + std::to_string(i)}, {"permissions", {"org:read"}}},
                  a["access_token"]);
    ASSERT_EQ(r.status, 201);
    ids.push_back(r.body["id"]);
  }
  auto page1 = call(Method::kGet, "/api/api-keys?limit=2", std::nullopt, a["access_token"]);
  ASSERT_EQ(page1.status, 200);
  ASSERT_EQ(page1.body["items"].size(), 2u);
  EXPECT_EQ(page1.body["items"][0]["id"], ids[2]);  // newest first
  ASSERT_TRUE(page1.body["next_cursor"].is_string());
  auto page2 = call(Method::kGet,
                    "/api/api-keys?limit=2&cursor=" + page1.body["next_cursor"].get<std::string>(),
                    std::nullopt, a["access_token"]);
  ASSERT_EQ(page2.body["items"].size(), 1u);
  EXPECT_EQ(page2.body["items"][0]["id"], ids[0]);
  EXPECT_TRUE(page2.body["next_cursor"].is_null());
  expect_problem(call(Method::kGet, "/api/api-keys?limit=0", std::nullopt, a["access_token"]), 400,
                 "invalid_request");
  expect_problem(call(Method::kGet, "/api/api-keys?cursor=xyz", std::nullopt, a["access_token"]),
                 400, "invalid_request");
}

TEST_P(IdentityApi, MintedTokensAreEnrichedLikeLogin) {
  auto a = signup("bea@example.com", "Bea Org");
  auto minted =
      node().identity.service().mint("bea@example.com", a["organization"]["id"].get<std::string>());
  ASSERT_TRUE(minted);
  EXPECT_EQ(json(minted->permissions), a["permissions"]);
  EXPECT_EQ(call(Method::kGet, "/api/me", std::nullopt, minted->access_token).status, 200);
  auto missing = node().identity.service().mint("nobody@example.com", std::nullopt);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(count("audit_log", "action = 'auth.token_mint'"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, IdentityApi, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::identity
