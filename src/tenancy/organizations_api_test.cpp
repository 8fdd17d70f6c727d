// The organization and secret routes through the application's request path, with real tokens,
// on every database backend: API.md's Organizations table, `current`, the super admin's
// cross-tenant reads (and nothing else), deletion, sealed secrets.
#include <gtest/gtest.h>

#include "platform/ids.hpp"
#include "platform/log.hpp"
#include "support/api_harness.hpp"
#include "tasks/org_secrets.hpp"

namespace atrium::tenancy {
namespace {

using atrium::testing::Actor;
using atrium::testing::Backend;
using atrium::testing::expect_problem;
using atrium::testing::TestApp;
using http::Method;
using nlohmann::json;

class OrganizationsApi : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    app_ = std::make_unique<TestApp>(GetParam());
    admin_ = app_->signup("admin@acme.example", "Acme Corp");
    other_ = app_->signup("eve@evil.example", "Evil");
  }
  TestApp& app() { return *app_; }

  using Reply = atrium::testing::Reply;

  std::vector<std::string> org_ids(const Reply& r) {
    std::vector<std::string> out;
    for (const auto& o : r.body["items"]) out.push_back(o["id"]);
    return out;
  }

  std::unique_ptr<TestApp> app_;
  Actor admin_;
  Actor other_;
};

TEST_P(OrganizationsApi, ListShowsTheCallersOrganizations) {
  auto r = app().call(Method::kGet, "/api/orgs", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(org_ids(r), std::vector<std::string>{admin_.org_id});
  EXPECT_EQ(r.body["items"][0]["name"], "Acme Corp");
  EXPECT_EQ(r.body["items"][0]["slug"], "acme-corp");
  EXPECT_TRUE(r.body["items"][0]["created_at"].is_string());
  EXPECT_TRUE(r.body["next_cursor"].is_null());

  // Joining another organization adds it, in creation order.
  app().member(other_, "admin@acme.example", "USER");
  r = app().call(Method::kGet, "/api/orgs", {}, admin_.token);
  EXPECT_EQ(org_ids(r), (std::vector<std::string>{admin_.org_id, other_.org_id}));
  // The list writes its page as text (JsonText), a single organization through nlohmann: the
  // same bytes.
  EXPECT_EQ(r.raw, r.body.dump(-1, ' ', false, json::error_handler_t::replace));
  auto one = app().call(Method::kGet, "/api/orgs/" + admin_.org_id, {}, admin_.token);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_NE(r.raw.find(one.raw), std::string::npos) << r.raw << "\n" << one.raw;
  r = app().call(Method::kGet, "/api/orgs?limit=1", {}, admin_.token);
  EXPECT_EQ(org_ids(r), std::vector<std::string>{admin_.org_id});
  r = app().call(Method::kGet,
                 "/api/orgs?limit=1&cursor=" + r.body["next_cursor"].get<std::string>(), {},
                 admin_.token);
  EXPECT_EQ(org_ids(r), std::vector<std::string>{other_.org_id});
  EXPECT_TRUE(r.body["next_cursor"].is_null());

  // An API key is a principal of its organization (API.md): that one only.
  auto key = app().api_key(admin_, {"agents:read"});
  r = app().call(Method::kGet, "/api/orgs", {}, key.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(org_ids(r), std::vector<std::string>{admin_.org_id});
  expect_problem(app().call(Method::kGet, "/api/orgs"), 401, "unauthenticated");
}

TEST_P(OrganizationsApi, SuperAdminListsEveryOrganizationAudited) {
  auto root = app().super_admin("root@platform.example", std::nullopt);
  auto r = app().call(Method::kGet, "/api/orgs", {}, root.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(org_ids(r), (std::vector<std::string>{admin_.org_id, other_.org_id}));
  // The list writes its page as text (JsonText), a single organization through nlohmann: the
  // same bytes.
  EXPECT_EQ(r.raw, r.body.dump(-1, ' ', false, json::error_handler_t::replace));
  auto one = app().call(Method::kGet, "/api/orgs/" + admin_.org_id, {}, admin_.token);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_NE(r.raw.find(one.raw), std::string::npos) << r.raw << "\n" << one.raw;
  EXPECT_EQ(app().count("audit_log", "action = 'org.cross_tenant_read' AND actor_id = '" +
                                         root.user_id + "' AND organization_id IS NULL"),
            1);
  // And reads any one, audited in that organization.
  r = app().call(Method::kGet, "/api/orgs/" + other_.org_id, {}, root.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["name"], "Evil");
  EXPECT_EQ(app().count("audit_log", "action = 'org.cross_tenant_read' AND organization_id = '" +
                                         other_.org_id + "'"),
            1);
  // Nothing else crosses: with no organization, tenant lists are empty and objects missing.
  r = app().call(Method::kGet, "/api/agents", {}, root.token);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body["items"].empty());
  expect_problem(
      app().call(Method::kPut, "/api/orgs/" + other_.org_id, json{{"name", "Mine"}}, root.token),
      404, "not_found");
  expect_problem(app().call(Method::kDelete, "/api/orgs/" + other_.org_id, {}, root.token), 404,
                 "not_found");
  expect_problem(app().call(Method::kGet, "/api/orgs/current", {}, root.token), 404, "not_found");
}

TEST_P(OrganizationsApi, CreateMakesTheCallerItsAdmin) {
  auto r = app().call(Method::kPost, "/api/orgs", json{{"name", "Second Co"}}, admin_.token);
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string id = r.body["id"];
  EXPECT_EQ(r.body["name"], "Second Co");
  EXPECT_EQ(r.body["slug"], "second-co");
  EXPECT_TRUE(r.body["created_at"].is_string());
  EXPECT_EQ(app().count("user_organization_roles",
                        "user_id = '" + admin_.user_id + "' AND organization_id = '" + id +
                            "' AND role_id = (SELECT id FROM roles WHERE name = 'TENANT_ADMIN')"),
            1);
  EXPECT_EQ(app().count("audit_log", "action = 'org.create' AND organization_id = '" + id + "'"),
            1);
  auto switched =
      app().call(Method::kPost, "/api/auth/switch", json{{"organization_id", id}}, admin_.token);
  ASSERT_EQ(switched.status, 200) << switched.raw;
  EXPECT_EQ(switched.body["organization"]["id"], id);

  // A chosen slug; taken → 409; derived from a taken name → a suffix.
  r = app().call(Method::kPost, "/api/orgs", json{{"name", "Third"}, {"slug", "third-one"}},
                 admin_.token);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["slug"], "third-one");
  expect_problem(app().call(Method::kPost, "/api/orgs",
                            json{{"name", "Other"}, {"slug", "third-one"}}, admin_.token),
                 409, "conflict");
  r = app().call(Method::kPost, "/api/orgs", json{{"name", "Acme Corp"}}, other_.token);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_NE(r.body["slug"], "acme-corp");
  EXPECT_TRUE(r.body["slug"].get<std::string>().starts_with("acme-corp-"));

  for (const auto& bad :
       {json{{"name", ""}}, json{{"slug", "x"}}, json{{"name", "x"}, {"slug", "Bad Slug"}},
        json{{"name", "x"}, {"slug", "-x"}}, json{{"name", "x"}, {"slug", "a--b"}},
        json{{"name", "x"}, {"slug", std::string(49, 'a')}}, json{{"name", std::string(201, 'n')}},
        json{{"name", "x"}, {"id", "y"}}}) {
    expect_problem(app().call(Method::kPost, "/api/orgs", bad, admin_.token), 400,
                   "invalid_request");
  }
  // API keys cannot create organizations.
  auto key = app().api_key(admin_, {"org:read"});
  expect_problem(app().call(Method::kPost, "/api/orgs", json{{"name", "By key"}}, key.token), 403,
                 "permission_denied");
}

TEST_P(OrganizationsApi, GetCurrentOrById) {
  auto cur = app().call(Method::kGet, "/api/orgs/current", {}, admin_.token);
  ASSERT_EQ(cur.status, 200) << cur.raw;
  EXPECT_EQ(cur.body["id"], admin_.org_id);
  auto byid = app().call(Method::kGet, "/api/orgs/" + admin_.org_id, {}, admin_.token);
  EXPECT_EQ(byid.body, cur.body);
  auto foreign = app().call(Method::kGet, "/api/orgs/" + other_.org_id, {}, admin_.token);
  auto missing = app().call(Method::kGet, "/api/orgs/" + new_id(), {}, admin_.token);
  expect_problem(foreign, 404, "not_found");
  expect_problem(missing, 404, "not_found");
  EXPECT_EQ(foreign.body["detail"], missing.body["detail"]);
  expect_problem(app().call(Method::kGet, "/api/orgs/nonsense", {}, admin_.token), 404,
                 "not_found");
  // A member of both sees the other only through its own token there.
  app().member(other_, "admin@acme.example", "USER");
  expect_problem(app().call(Method::kGet, "/api/orgs/" + other_.org_id, {}, admin_.token), 404,
                 "not_found");
}

TEST_P(OrganizationsApi, UpdateNeedsOrgManageAndStaysHome) {
  // TENANT_ADMIN has no org:manage (DESIGN.md §6, as the seed).
  expect_problem(app().call(Method::kPut, "/api/orgs/current", json{{"name", "New"}}, admin_.token),
                 403, "permission_denied");
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  auto r = app().call(Method::kPut, "/api/orgs/current",
                      json{{"name", "Acme Two"}, {"slug", "acme-two"}}, root.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["name"], "Acme Two");
  EXPECT_EQ(r.body["slug"], "acme-two");
  EXPECT_EQ(app().count("audit_log",
                        "action = 'org.update' AND organization_id = '" + admin_.org_id + "'"),
            1);
  // The slug of another organization is taken.
  auto evil = app().call(Method::kGet, "/api/orgs/current", {}, other_.token);
  expect_problem(app().call(Method::kPut, "/api/orgs/" + admin_.org_id,
                            json{{"slug", evil.body["slug"]}}, root.token),
                 409, "conflict");
  expect_problem(app().call(Method::kPut, "/api/orgs/current", json::object(), root.token), 400,
                 "invalid_request");
  expect_problem(app().call(Method::kPut, "/api/orgs/current", json{{"slug", "UPPER"}}, root.token),
                 400, "invalid_request");
  // Another organization: 404 before the body's rules, even for `*`.
  expect_problem(
      app().call(Method::kPut, "/api/orgs/" + other_.org_id, json{{"slug", "UPPER"}}, root.token),
      404, "not_found");
  auto still = app().call(Method::kGet, "/api/orgs/current", {}, other_.token);
  EXPECT_EQ(still.body, evil.body);
}

TEST_P(OrganizationsApi, DeleteRemovesEverythingAndCutsTokensOff) {
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  auto user = app().member(admin_, "user@acme.example", "USER");
  auto agent = app().call(Method::kPost, "/api/agents", json{{"name", "A"}, {"executor", "echo"}},
                          admin_.token);
  ASSERT_EQ(agent.status, 201);
  expect_problem(app().call(Method::kDelete, "/api/orgs/current", {}, admin_.token), 403,
                 "permission_denied");
  auto r = app().call(Method::kDelete, "/api/orgs/" + admin_.org_id, {}, root.token);
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_EQ(app().count("organizations", "id = '" + admin_.org_id + "'"), 0);
  EXPECT_EQ(app().count("agents", "organization_id = '" + admin_.org_id + "'"), 0);
  EXPECT_EQ(app().count("user_organization_roles", "organization_id = '" + admin_.org_id + "'"), 0);
  EXPECT_EQ(app().count("users", "id = '" + user.user_id + "'"), 1);  // identities stay
  EXPECT_EQ(app().count("audit_log",
                        "action = 'org.delete' AND organization_id = '" + admin_.org_id + "'"),
            1);
  expect_problem(app().call(Method::kGet, "/api/agents", {}, user.token), 401, "unauthenticated");
  expect_problem(app().call(Method::kGet, "/api/me", {}, admin_.token), 401, "unauthenticated");
  // The other tenant is untouched.
  EXPECT_EQ(app().call(Method::kGet, "/api/orgs/current", {}, other_.token).status, 200);
}

// A secret's value reaches no log line (debug level included, refusals included), and every write
// seals with a fresh nonce: the same value twice gives another nonce and ciphertext.
TEST_P(OrganizationsApi, SecretsAreNeverLoggedAndSealedAfresh) {
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  const std::string value = "sk-log-check-4f9a8b7c6d5e";
  const std::string path = "/api/orgs/current/secrets/llm_api_key";
  auto sealed = [&] {
    auto r = app().db().transact({.tenant = admin_.org_id, .read_only = true}, [&](db::Tx& tx) {
      return tx.query_one(
          "SELECT nonce, ciphertext FROM org_secrets WHERE organization_id = $1 AND name = $2",
          {admin_.org_id, "llm_api_key"});
    });
    EXPECT_TRUE(r && *r);
    return r && *r ? (**r).text(0) + "|" + (**r).text(1) : std::string();
  };

  log::Level previous = log::Level::kOff;
  for (auto level : {log::Level::kError, log::Level::kWarn, log::Level::kInfo, log::Level::kDebug})
    if (log::enabled(level)) previous = level;
  log::set_level(log::Level::kDebug);
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(app().call(Method::kPut, path, json{{"value", value}}, root.token).status, 204);
  const std::string first = sealed();
  EXPECT_EQ(app().call(Method::kPut, path, json{{"value", value}}, root.token).status, 204);
  const std::string second = sealed();
  expect_problem(app().call(Method::kPut, path, json{{"value", value}}, admin_.token), 403,
                 "permission_denied");
  expect_problem(app().call(Method::kPut, path, json{{"value", value}, {value, value}}, root.token),
                 400, "invalid_request");
  expect_problem(app().call(Method::kPut, "/api/orgs/current/secrets/Bad-Name",
                            json{{"value", value}}, root.token),
                 400, "invalid_request");
  log::flush();
  const std::string out = ::testing::internal::GetCapturedStdout();
  log::set_level(previous);

  EXPECT_NE(out.find("/secrets/llm_api_key"), std::string::npos) << "no request was logged";
  EXPECT_EQ(out.find(value), std::string::npos) << out;
  EXPECT_EQ(out.find("4f9a8b7c6d5e"), std::string::npos) << out;
  EXPECT_EQ(app().count("audit_log", "CAST(details AS TEXT) LIKE '%4f9a8b7c6d5e%'"), 0);
  ASSERT_FALSE(first.empty());
  const auto bar = first.find('|');
  EXPECT_NE(first.substr(0, bar), second.substr(0, bar)) << "the nonce was reused";
  EXPECT_NE(first.substr(bar), second.substr(bar));
}

TEST_P(OrganizationsApi, SecretsAreSealedNeverShown) {
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  const std::string value = "sk-test-0123456789-very-secret";
  auto r = app().call(Method::kPut, "/api/orgs/current/secrets/llm_api_key", json{{"value", value}},
                      root.token);
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_TRUE(r.raw.empty());
  // Stored sealed; the value is nowhere in the database, the audit trail included.
  EXPECT_EQ(app().count("org_secrets", "organization_id = '" + admin_.org_id + "'", admin_.org_id),
            1);
  EXPECT_EQ(app().count("org_secrets", "ciphertext LIKE '%very-secret%'", admin_.org_id), 0);
  EXPECT_EQ(app().count("audit_log", "CAST(details AS TEXT) LIKE '%very-secret%'"), 0);
  EXPECT_EQ(app().count("audit_log", "action = 'secret.update' AND target_id = 'llm_api_key'"), 1);
  // The task workers read it back with the data key.
  auto reader = tasks::org_secret_reader(app().db(), app().config().data_key);
  auto read = reader(admin_.org_id, "llm_api_key");
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(**read, value);
  // Replaced in place.
  ASSERT_EQ(app()
                .call(Method::kPut, "/api/orgs/" + admin_.org_id + "/secrets/llm_api_key",
                      json{{"value", "second"}}, root.token)
                .status,
            204);
  EXPECT_EQ(**reader(admin_.org_id, "llm_api_key"), "second");
  EXPECT_EQ(app().count("org_secrets", "organization_id = '" + admin_.org_id + "'", admin_.org_id),
            1);

  expect_problem(app().call(Method::kPut, "/api/orgs/current/secrets/Bad-Name",
                            json{{"value", "x"}}, root.token),
                 400, "invalid_request");
  expect_problem(
      app().call(Method::kPut, "/api/orgs/current/secrets/ok", json{{"value", ""}}, root.token),
      400, "invalid_request");
  expect_problem(app().call(Method::kPut, "/api/orgs/current/secrets/ok",
                            json{{"value", std::string(8193, 'v')}}, root.token),
                 400, "invalid_request");
  expect_problem(app().call(Method::kPut, "/api/orgs/" + other_.org_id + "/secrets/llm_api_key",
                            json{{"value", "x"}}, root.token),
                 404, "not_found");
  expect_problem(app().call(Method::kPut, "/api/orgs/current/secrets/llm_api_key",
                            json{{"value", "x"}}, admin_.token),
                 403, "permission_denied");
  EXPECT_FALSE(*reader(other_.org_id, "llm_api_key"));
}

// Organizations created while the list is walked: none that was there is skipped or seen twice.
TEST_P(OrganizationsApi, PagesStayWholeWhileOrganizationsAreCreated) {
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(app()
                  .call(Method::kPost, "/api/orgs", json{{"name", "Before " + std::to_string(i)}},
                        admin_.token)
                  .status,
              201);
  const auto before = atrium::testing::walk(
      app(), "/api/orgs", admin_.token, "id", [] {}, 100);
  ASSERT_EQ(before.size(), 5u);
  int n = 0;
  auto seen = atrium::testing::walk(app(), "/api/orgs", admin_.token, "id", [&] {
    auto r = app().call(Method::kPost, "/api/orgs", json{{"name", "During " + std::to_string(++n)}},
                        admin_.token);
    ASSERT_EQ(r.status, 201) << r.raw;
  });
  atrium::testing::expect_whole(before, seen);
}

INSTANTIATE_TEST_SUITE_P(Backends, OrganizationsApi,
                         ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::tenancy
