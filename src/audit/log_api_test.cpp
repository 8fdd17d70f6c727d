// GET /api/audit through the application's request path, with real tokens, on every backend.
#include <gtest/gtest.h>

#include "support/api_harness.hpp"

namespace atrium::audit {
namespace {

using atrium::testing::Actor;
using atrium::testing::expect_problem;
using http::Method;
using nlohmann::json;

class AuditApi : public atrium::testing::ApiTest {};

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

TEST_P(AuditApi, ThePageIsTheBytesNlohmannWrites) {
  // The page is written as text (JsonText): the same bytes as the same objects through nlohmann,
  // details included (a map whose keys the database may keep in another order).
  auto agent = app().call(Method::kPost, "/api/agents",
                          json{{"name", "Odd \"quoted\" caf\u00e9 \U0001F600 back\\slash"},
                               {"description", "tab\tline\n"},
                               {"executor", "echo"}},
                          admin_.token);
  ASSERT_EQ(agent.status, 201) << agent.raw;
  auto key = app().api_key(admin_, {"agents:read"});
  for (const std::string path : {"/api/audit", "/api/audit?limit=2"}) {
    auto r = app().call(Method::kGet, path, {}, admin_.token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.raw, r.body.dump(-1, ' ', false, json::error_handler_t::replace));
  }
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

// Any caller can repeat a refused request at will: one row per caller, route and refusal a minute,
// the next one counting those left out; the metrics count every refusal.
TEST_P(AuditApi, RepeatedRefusalsDoNotFloodTheLog) {
  auto user = app().member(admin_, "user@acme.example", "USER");
  auto refused = [&] {
    expect_problem(app().call(Method::kGet, "/api/audit", {}, user.token), 403,
                   "permission_denied");
  };
  for (int i = 0; i < 20; ++i) refused();
  EXPECT_EQ(app().count("audit_log", "action = 'access.denied'"), 1);
  // Another route is another key.
  expect_problem(app().call(Method::kPost, "/api/agents", json{{"name", "x"}, {"executor", "echo"}},
                            user.token),
                 403, "permission_denied");
  EXPECT_EQ(app().count("audit_log", "action = 'access.denied'"), 2);

  app().clock().advance(std::chrono::seconds(61));
  refused();
  auto r = app().call(Method::kGet, "/api/audit?action=access.denied", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["items"].size(), 3u) << r.raw;
  EXPECT_EQ(r.body["items"][0]["details"]["route"], "/api/audit");
  EXPECT_EQ(r.body["items"][0]["details"]["suppressed"], 19);
  EXPECT_FALSE(r.body["items"][2]["details"].contains("suppressed"));

  const std::string metrics = app().call(Method::kGet, "/metrics").raw;
  EXPECT_NE(metrics.find("atrium_access_denied_total{code=\"permission_denied\"} 22"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("atrium_access_denied_unaudited_total 19"), std::string::npos) << metrics;
}

// Entries written while the log is walked (newest first): none that was there is skipped or seen
// twice.
TEST_P(AuditApi, PagesStayWholeWhileEntriesAreWritten) {
  auto agent = [&](const std::string& name) {
    auto r = app().call(Method::kPost, "/api/agents", json{{"name", name}, {"executor", "echo"}},
                        admin_.token);
    ASSERT_EQ(r.status, 201) << r.raw;
  };
  for (int i = 0; i < 5; ++i) agent("before " + std::to_string(i));
  const auto before = atrium::testing::walk(
      app(), "/api/audit", admin_.token, "id", [] {}, 100);
  ASSERT_GE(before.size(), 6u);  // the signup's entries and the agents'
  int n = 0;
  auto seen = atrium::testing::walk(app(), "/api/audit", admin_.token, "id",
                                    [&] { agent("during " + std::to_string(++n)); });
  atrium::testing::expect_whole(before, seen);
}

// A change and its audit entry commit together: when the entry cannot be written the change is
// undone, and a change that fails half-way leaves neither a partial write nor an entry. (The
// database refuses here by a trigger the test installs.)
TEST_P(AuditApi, AChangeAndItsEntryCommitTogether) {
  const bool pg = app().db().dialect() == "postgresql";
  auto refuse = [&](const std::string& table, const std::string& when) {
    const std::string name = "refuse_" + table;
    auto r = app().db().transact({}, [&](db::Tx& tx) {
      return tx.execute_script(
          pg ? "CREATE FUNCTION " + name +
                   "() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION "
                   "'refused by the test'; END $f$; CREATE TRIGGER " +
                   name + " BEFORE INSERT ON " + table + " FOR EACH ROW WHEN (" + when +
                   ") EXECUTE FUNCTION " + name + "();"
             : "CREATE TRIGGER " + name + " BEFORE INSERT ON " + table + " WHEN " + when +
                   " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;");
    });
    ASSERT_TRUE(r) << r.error().detail;
  };

  // The entry cannot be written: no agent either.
  refuse("audit_log", "NEW.action = 'agent.create'");
  auto agent = app().call(Method::kPost, "/api/agents",
                          json{{"name", "Unaudited"}, {"executor", "echo"}}, admin_.token);
  EXPECT_GE(agent.status, 400) << agent.raw;
  EXPECT_EQ(agent.headers.get("Content-Type"), "application/problem+json");
  EXPECT_EQ(agent.raw.find("refused by the test"), std::string::npos) << agent.raw;
  EXPECT_EQ(app().count("agents", "organization_id = '" + admin_.org_id + "'", admin_.org_id), 0);

  // The role is written, then its permissions fail: no role, no entry.
  refuse("role_permissions", "1 = 1");
  auto role = app().call(Method::kPost, "/api/roles",
                         json{{"name", "Half"}, {"permissions", {"agents:read", "audit:read"}}},
                         admin_.token);
  EXPECT_GE(role.status, 400) << role.raw;
  EXPECT_EQ(app().count("roles", "name = 'Half'", admin_.org_id), 0);
  EXPECT_EQ(app().count("audit_log", "action = 'role.create'"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditApi, ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::audit
