// GET /api/audit through the application's request path, with real tokens, on every backend.
#include <gtest/gtest.h>

#include "support/api_harness.hpp"

namespace atrium::audit {
namespace {

using atrium::testing::Actor;
using atrium::testing::Backend;
using atrium::testing::expect_problem;
using atrium::testing::TestApp;
using http::Method;
using nlohmann::json;

class AuditApi : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    app_ = std::make_unique<TestApp>(GetParam());
    admin_ = app_->signup("admin@acme.example", "Acme");
  }
  TestApp& app() { return *app_; }
  std::unique_ptr<TestApp> app_;
  Actor admin_;
};

TEST_P(AuditApi, NewestFirstWithActorsAndTargets) {
  auto key = app().api_key(admin_, {"agents:create"});
  auto agent = app().call(Method::kPost, "/api/agents", json{{"name", "A"}, {"executor", "echo"}},
                          key.token);
  ASSERT_EQ(agent.status, 201);
  auto r = app().call(Method::kGet, "/api/audit", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  std::vector<std::string> actions;
  for (const auto& e : r.body["items"]) actions.push_back(e["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"agent.create", "apikey.create", "org.create",
                                               "auth.signup"}));
  const auto& created = r.body["items"][0];
  EXPECT_EQ(created["actor"]["type"], "api_key");
  EXPECT_EQ(created["actor"]["email"], "admin@acme.example");  // the key's creator
  EXPECT_EQ(created["target"], json({{"type", "agent"}, {"id", agent.body["id"]}}));
  EXPECT_EQ(created["ip"], "10.0.0.1");
  EXPECT_TRUE(created["request_id"].is_string());
  EXPECT_EQ(created["details"]["name"], "A");
  EXPECT_TRUE(created["created_at"].is_string());
  const auto& signup = r.body["items"][3];
  EXPECT_EQ(signup["actor"],
            json({{"type", "user"}, {"id", admin_.user_id}, {"email", "admin@acme.example"}}));
  // The key's secret is nowhere in its entry.
  EXPECT_EQ(r.raw.find(key.token), std::string::npos);
}

TEST_P(AuditApi, FilterAndPages) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(app()
                  .call(Method::kPost, "/api/agents",
                        json{{"name", "A" + std::to_string(i)}, {"executor", "echo"}}, admin_.token)
                  .status,
              201);
  auto r = app().call(Method::kGet, "/api/audit?action=agent.create&limit=2", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  std::vector<std::string> names;
  std::string cursor = r.body["next_cursor"];
  for (const auto& e : r.body["items"]) names.push_back(e["details"]["name"]);
  while (!cursor.empty()) {
    auto p = app().call(Method::kGet, "/api/audit?action=agent.create&limit=2&cursor=" + cursor, {},
                        admin_.token);
    ASSERT_EQ(p.status, 200) << p.raw;
    for (const auto& e : p.body["items"]) {
      EXPECT_EQ(e["action"], "agent.create");
      names.push_back(e["details"]["name"]);
    }
    cursor = p.body["next_cursor"].is_null() ? "" : p.body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"A4", "A3", "A2", "A1", "A0"}));

  auto none = app().call(Method::kGet, "/api/audit?action=no.such_action", {}, admin_.token);
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.body["items"].empty());
  for (const char* bad : {"?action=", "?action=DROP%20TABLE", "?action=a..b", "?action=%ff",
                          "?limit=0", "?cursor=zzz"})
    expect_problem(app().call(Method::kGet, std::string("/api/audit") + bad, {}, admin_.token), 400,
                   "invalid_request");
}

TEST_P(AuditApi, OnlyTheCallersOrganization) {
  auto other = app().signup("eve@evil.example", "Evil");
  ASSERT_EQ(app()
                .call(Method::kPost, "/api/agents", json{{"name", "Theirs"}, {"executor", "echo"}},
                      other.token)
                .status,
            201);
  auto r = app().call(Method::kGet, "/api/audit?limit=100", {}, admin_.token);
  ASSERT_EQ(r.status, 200);
  for (const auto& e : r.body["items"]) {
    EXPECT_NE(e["action"], "agent.create");
    EXPECT_EQ(e.dump().find(other.user_id), std::string::npos);
  }
  // A failed login has no organization: nobody's tenant log shows it.
  app().call(Method::kPost, "/api/auth/login",
             json{{"email", "admin@acme.example"}, {"password", "wrong password!"}});
  r = app().call(Method::kGet, "/api/audit?action=auth.login_failed", {}, admin_.token);
  EXPECT_TRUE(r.body["items"].empty());

  auto user = app().member(admin_, "user@acme.example", "USER");
  expect_problem(app().call(Method::kGet, "/api/audit", {}, user.token), 403, "permission_denied");
  expect_problem(app().call(Method::kGet, "/api/audit"), 401, "unauthenticated");
}

TEST_P(AuditApi, RefusalsAreSecurityEvents) {
  auto user = app().member(admin_, "user@acme.example", "USER");
  expect_problem(app().call(Method::kPost, "/api/agents", json{{"name", "x"}, {"executor", "echo"}},
                            user.token),
                 403, "permission_denied");
  expect_problem(
      app().call(Method::kPost, "/api/roles",
                 json{{"name", "Owners"}, {"permissions", {"org:manage"}}}, admin_.token),
      403, "privilege_escalation");
  auto r = app().call(Method::kGet, "/api/audit?action=access.denied", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["items"].size(), 2u) << r.raw;
  const auto& escalation = r.body["items"][0];
  EXPECT_EQ(escalation["actor"]["id"], admin_.user_id);
  EXPECT_EQ(escalation["details"]["code"], "privilege_escalation");
  EXPECT_EQ(escalation["details"]["route"], "/api/roles");
  const auto& denied = r.body["items"][1];
  EXPECT_EQ(denied["actor"]["id"], user.user_id);
  EXPECT_EQ(denied["details"]["code"], "permission_denied");
  EXPECT_EQ(denied["details"]["method"], "POST");
  EXPECT_NE(denied["details"]["detail"].get<std::string>().find("agents:create"),
            std::string::npos);
  // Nothing is recorded for an anonymous caller (401 is not a refusal of someone).
  app().call(Method::kGet, "/api/audit");
  EXPECT_EQ(app().count("audit_log", "action = 'access.denied'"), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditApi, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::audit
