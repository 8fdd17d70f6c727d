// The agents routes through the application's request path (app::Api, no network), with real
// tokens, on every database backend: API.md's Agents table, validation, isolation, audit.
#include <gtest/gtest.h>

#include <set>

#include "agents/routes.hpp"
#include "http/pagination.hpp"
#include "platform/ids.hpp"
#include "support/api_harness.hpp"

namespace atrium::agents {
namespace {

using atrium::testing::Actor;
using atrium::testing::concurrently;
using atrium::testing::expect_problem;
using http::Method;
using nlohmann::json;

class AgentsApi : public atrium::testing::ApiTest {
 protected:
  json create(const Actor& who, json body) {
    auto r = app().call(Method::kPost, "/api/agents", body, who.token);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }
};

TEST_P(AgentsApi, CreateReturnsTheAgentAndAudits) {
  auto a = create(admin_, {{"name", "  Greeter "},
                           {"description", "Says hello\nback"},
                           {"executor", "echo"},
                           {"instructions", "  be kind  "}});
  EXPECT_TRUE(a["id"].is_string());
  EXPECT_EQ(a["name"], "Greeter");  // trimmed
  EXPECT_EQ(a["description"], "Says hello\nback");
  EXPECT_EQ(a["executor"], "echo");
  EXPECT_EQ(a["model"], "");
  EXPECT_EQ(a["instructions"], "  be kind  ");  // free text kept as written
  EXPECT_EQ(a["config"], json::object());
  EXPECT_EQ(a["created_by"], admin_.user_id);
  EXPECT_EQ(a["created_at"], a["updated_at"]);
  for (const char* k : {"id", "name", "description", "executor", "model", "instructions", "config",
                        "created_by", "created_at", "updated_at"})
    EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_EQ(app().count("audit_log", "action = 'agent.create' AND target_id = '" +
                                         a["id"].get<std::string>() + "' AND organization_id = '" +
                                         admin_.org_id + "' AND actor_id = '" + admin_.user_id +
                                         "' AND request_id IS NOT NULL AND ip = '10.0.0.1'"),
            1);

  auto got =
      app().call(Method::kGet, "/api/agents/" + a["id"].get<std::string>(), {}, admin_.token);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, a);
}

TEST_P(AgentsApi, OpenAiAgentWithConfig) {
  auto a = create(
      admin_,
      {{"name", "Writer"},
       {"executor", "openai"},
       {"model", "gpt-4o-mini"},
       {"config",
        {{"base_url", "https://llm.example/v1"}, {"temperature", 0.2}, {"max_tokens", 256}}}});
  EXPECT_EQ(a["config"]["base_url"], "https://llm.example/v1");
  EXPECT_EQ(a["config"]["max_tokens"], 256);
  EXPECT_EQ(a["model"], "gpt-4o-mini");
}

TEST_P(AgentsApi, ListItemsAreTheBytesOfTheObjects) {
  // The list writes its page as text (JsonText), a single agent through nlohmann: the same bytes.
  auto plain = create(admin_, {{"name", "Plain"}, {"executor", "echo"}});
  auto odd = create(admin_, {{"name", "Odd \"quoted\" caf\u00e9 \U0001F600"},
                             {"description", "back\\slash\ttab\nline"},
                             {"executor", "openai"},
                             {"model", "gpt-4o-mini"},
                             {"instructions", "  {\"not\": json}\r\n\u00e9  "},
                             {"config", {{"temperature", 0.2}, {"base_url", "https://x/v1"}}}});
  auto list = app().call(Method::kGet, "/api/agents", {}, admin_.token);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["items"].size(), 2u);
  for (const auto& a : {plain, odd}) {
    auto one =
        app().call(Method::kGet, "/api/agents/" + a["id"].get<std::string>(), {}, admin_.token);
    ASSERT_EQ(one.status, 200) << one.raw;
    EXPECT_NE(list.raw.find(one.raw), std::string::npos) << list.raw << "\n" << one.raw;
  }
  EXPECT_EQ(list.raw, list.body.dump(-1, ' ', false, json::error_handler_t::replace));
}

TEST_P(AgentsApi, ValidationNamesEveryField) {
  const auto before = app().count("agents");
  auto r = app().call(
      Method::kPost, "/api/agents",
      json{{"name", ""}, {"executor", "telepathy"}, {"model", std::string(201, 'm')}, {"extra", 1}},
      admin_.token);
  expect_problem(r, 400, "invalid_request");
  std::set<std::string> fields;
  for (const auto& e : r.body["errors"]) fields.insert(e["field"]);
  EXPECT_EQ(fields, (std::set<std::string>{"name", "model", "extra"}));

  r = app().call(Method::kPost, "/api/agents", json{{"name", "x"}, {"executor", "telepathy"}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  ASSERT_EQ(r.body["errors"].size(), 1u);
  EXPECT_EQ(r.body["errors"][0]["field"], "executor");
  EXPECT_NE(r.body["errors"][0]["message"].get<std::string>().find("echo, openai"),
            std::string::npos);

  r = app().call(Method::kPost, "/api/agents", json{{"executor", "echo"}}, admin_.token);
  expect_problem(r, 400, "invalid_request");
  EXPECT_EQ(r.body["errors"][0]["field"], "name");

  r = app().call(Method::kPost, "/api/agents",
                 json{{"name", "x"},
                      {"executor", "openai"},
                      {"config", {{"base_url", "ftp://x"}, {"temperature", 3}, {"color", "red"}}}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  fields.clear();
  for (const auto& e : r.body["errors"]) fields.insert(e["field"]);
  EXPECT_EQ(fields,
            (std::set<std::string>{"config.base_url", "config.temperature", "config.color"}));

  r = app().call(Method::kPost, "/api/agents",
                 json{{"name", "x"}, {"executor", "echo"}, {"config", json::array()}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  r = app().call(Method::kPost, "/api/agents",
                 json{{"name", "x"}, {"executor", "echo"}, {"config", {{"anything", 1}}}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  r = app().call(Method::kPost, "/api/agents",
                 json{{"name", "x"},
                      {"executor", "echo"},
                      {"instructions", std::string(kMaxInstructions + 1, 'i')}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  r = app().call(Method::kPost, "/api/agents", json{{"name", "a\tb"}, {"executor", "echo"}},
                 admin_.token);
  expect_problem(r, 400, "invalid_request");
  r = app().call(Method::kPost, "/api/agents", std::nullopt, admin_.token);
  expect_problem(r, 400, "invalid_request");
  EXPECT_EQ(app().count("agents"), before);
  EXPECT_EQ(app().count("audit_log", "action = 'agent.create'"), 0);
}

TEST_P(AgentsApi, PatchChangesOnlyWhatIsNamed) {
  auto a = create(admin_, {{"name", "One"}, {"executor", "echo"}, {"model", "m1"}});
  const std::string id = a["id"];
  app().clock().advance(std::chrono::seconds(5));
  auto r = app().call(Method::kPatch, "/api/agents/" + id,
                      json{{"name", "Two"}, {"instructions", "new"}}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["name"], "Two");
  EXPECT_EQ(r.body["instructions"], "new");
  EXPECT_EQ(r.body["model"], "m1");
  EXPECT_EQ(r.body["created_at"], a["created_at"]);
  EXPECT_GT(r.body["updated_at"].get<std::string>(), a["updated_at"].get<std::string>());
  EXPECT_EQ(app().count("audit_log", "action = 'agent.update' AND target_id = '" + id + "'"), 1);

  // Switching executor re-checks the config against the new one.
  r = app().call(Method::kPatch, "/api/agents/" + id,
                 json{{"executor", "openai"}, {"config", {{"base_url", "http://h/v1"}}}},
                 admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  r = app().call(Method::kPatch, "/api/agents/" + id, json{{"executor", "echo"}}, admin_.token);
  expect_problem(r, 400, "invalid_request");  // echo has no base_url setting
  EXPECT_EQ(r.body["errors"][0]["field"], "config.base_url");

  r = app().call(Method::kPatch, "/api/agents/" + id, json::object(), admin_.token);
  expect_problem(r, 400, "invalid_request");
  r = app().call(Method::kPatch, "/api/agents/" + id, json{{"name", ""}}, admin_.token);
  expect_problem(r, 400, "invalid_request");
  // The same values again: 200, nothing written, nothing audited.
  r = app().call(Method::kPatch, "/api/agents/" + id, json{{"name", "Two"}}, admin_.token);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(app().count("audit_log", "action = 'agent.update' AND target_id = '" + id + "'"), 2);
}

TEST_P(AgentsApi, DeleteRemovesTheAgentAndItsTasks) {
  auto a = create(admin_, {{"name", "Doomed"}, {"executor", "echo"}});
  const std::string id = a["id"];
  auto t = app().call(Method::kPost, "/api/agents/" + id + "/tasks", json{{"input", "hi"}},
                      admin_.token);
  const bool tasks_routes = t.status != 404 || t.code() != "not_found";
  auto r = app().call(Method::kDelete, "/api/agents/" + id, {}, admin_.token);
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_TRUE(r.raw.empty());
  expect_problem(app().call(Method::kGet, "/api/agents/" + id, {}, admin_.token), 404, "not_found");
  expect_problem(app().call(Method::kDelete, "/api/agents/" + id, {}, admin_.token), 404,
                 "not_found");
  EXPECT_EQ(app().count("agents", "id = '" + id + "'"), 0);
  if (tasks_routes) {
    EXPECT_EQ(app().count("tasks", "agent_id = '" + id + "'"), 0);
  }
  EXPECT_EQ(app().count("audit_log", "action = 'agent.delete' AND target_id = '" + id + "'"), 1);
}

TEST_P(AgentsApi, AnotherTenantsAgentIsNotFound) {
  auto other = app().signup("eve@evil.example", "Evil");
  auto theirs = create(other, {{"name", "Theirs"}, {"executor", "echo"}});
  const std::string id = theirs["id"];
  auto mine = create(admin_, {{"name", "Mine"}, {"executor", "echo"}});

  auto missing = app().call(Method::kGet, "/api/agents/" + new_id(), {}, admin_.token);
  auto foreign = app().call(Method::kGet, "/api/agents/" + id, {}, admin_.token);
  expect_problem(foreign, 404, "not_found");
  EXPECT_EQ(foreign.body["detail"], missing.body["detail"]);
  EXPECT_EQ(foreign.body["title"], missing.body["title"]);
  // The object before the body's rules: an invalid body for another tenant's agent is 404.
  expect_problem(app().call(Method::kPatch, "/api/agents/" + id, json{{"name", ""}}, admin_.token),
                 404, "not_found");
  expect_problem(
      app().call(Method::kPatch, "/api/agents/" + id, json{{"name", "Mine now"}}, admin_.token),
      404, "not_found");
  expect_problem(app().call(Method::kDelete, "/api/agents/" + id, {}, admin_.token), 404,
                 "not_found");
  expect_problem(app().call(Method::kGet, "/api/agents/not-a-uuid", {}, admin_.token), 404,
                 "not_found");

  auto list = app().call(Method::kGet, "/api/agents", {}, admin_.token);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["id"], mine["id"]);
  // Theirs is untouched.
  auto still = app().call(Method::kGet, "/api/agents/" + id, {}, other.token);
  EXPECT_EQ(still.body, theirs);
}

TEST_P(AgentsApi, PermissionsFollowTheRoles) {
  auto user = app().member(admin_, "user@acme.example", "USER");
  auto a = create(admin_, {{"name", "Shared"}, {"executor", "echo"}});
  const std::string id = a["id"];
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, user.token).status, 200);
  EXPECT_EQ(app().call(Method::kGet, "/api/agents/" + id, {}, user.token).status, 200);
  auto denied = app().call(Method::kPost, "/api/agents", json{{"name", "x"}, {"executor", "echo"}},
                           user.token);
  expect_problem(denied, 403, "permission_denied");
  EXPECT_NE(denied.body["detail"].get<std::string>().find("agents:create"), std::string::npos);
  // 403 before 404: a missing agent is still 403 for a caller without the permission.
  expect_problem(app().call(Method::kDelete, "/api/agents/" + new_id(), {}, user.token), 403,
                 "permission_denied");
  expect_problem(app().call(Method::kPatch, "/api/agents/" + id, json{{"name", "x"}}, user.token),
                 403, "permission_denied");
  expect_problem(app().call(Method::kGet, "/api/agents"), 401, "unauthenticated");

  auto key = app().api_key(admin_, {"agents:create"});
  auto made = app().call(Method::kPost, "/api/agents",
                         json{{"name", "By key"}, {"executor", "echo"}}, key.token);
  EXPECT_EQ(made.status, 201) << made.raw;
  EXPECT_EQ(made.body["created_by"], admin_.user_id);  // the key's creator answers for it
  expect_problem(app().call(Method::kGet, "/api/agents", {}, key.token), 403, "permission_denied");
}

TEST_P(AgentsApi, PagesAreStableUnderInserts) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i)
    ids.push_back(create(admin_, {{"name", "A" + std::to_string(i)}, {"executor", "echo"}})["id"]);
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = app().call(Method::kGet,
                        "/api/agents?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), {},
                        admin_.token);
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const auto& item : r.body["items"]) seen.push_back(item["id"]);
    // New agents arriving meanwhile land before the first page, never in the rest.
    create(admin_, {{"name", "late"}, {"executor", "echo"}});
    if (r.body["next_cursor"].is_null()) break;
    cursor = r.body["next_cursor"];
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, newest_first);

  expect_problem(app().call(Method::kGet, "/api/agents?limit=0", {}, admin_.token), 400,
                 "invalid_request");
  expect_problem(app().call(Method::kGet, "/api/agents?limit=101", {}, admin_.token), 400,
                 "invalid_request");
  expect_problem(app().call(Method::kGet, "/api/agents?cursor=bogus", {}, admin_.token), 400,
                 "invalid_request");
  // A well-formed cursor around a key that is not an id.
  expect_problem(
      app().call(Method::kGet, "/api/agents?cursor=" + http::make_cursor("x'--"), {}, admin_.token),
      400, "invalid_request");
}

// The executor and config an update would leave are checked against the agent it writes, not
// against the route's earlier read: the service refuses a change that only the stored agent makes
// invalid (here: echo takes no base_url).
TEST_P(AgentsApi, UpdateChecksTheAgentItWrites) {
  auto a = create(admin_, {{"name", "Llm"},
                           {"executor", "openai"},
                           {"config", {{"base_url", "https://llm.example/v1"}}}});
  const std::string id = a["id"];
  Principal caller;
  caller.user_id = admin_.user_id;
  caller.email = admin_.email;
  caller.org_id = admin_.org_id;
  caller.permissions = {"agents:manage"};
  http::Request req;
  AgentFields to_echo;
  to_echo.executor = "echo";
  auto r = app().app().agents().update(caller, id, to_echo, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidRequest);
  ASSERT_EQ(r.error().fields.size(), 1u);
  EXPECT_EQ(r.error().fields[0].field, "config.base_url");
  EXPECT_EQ(app().call(Method::kGet, "/api/agents/" + id, {}, admin_.token).body["executor"],
            "openai");
  EXPECT_EQ(app().count("audit_log", "action = 'agent.update'"), 0);

  // Through the API, at once: an executor change and a config change each valid alone, invalid
  // together. Whatever the order, the agent stays valid.
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto reset = app().call(Method::kPatch, "/api/agents/" + id,
                            json{{"executor", "openai"}, {"config", json::object()}}, admin_.token);
    ASSERT_EQ(reset.status, 200) << reset.raw;
    auto patch = [&](json body) {
      return [this, id, body] {
        return app().call(Method::kPatch, "/api/agents/" + id, body, admin_.token);
      };
    };
    auto replies = concurrently({patch({{"executor", "echo"}}),
                                 patch({{"config", {{"base_url", "https://llm.example/v1"}}}})});
    int refused = 0;
    for (const auto& reply : replies) {
      if (reply.status == 400)
        ++refused;
      else
        EXPECT_EQ(reply.status, 200) << reply.raw;
    }
    EXPECT_EQ(refused, 1);
    auto now = app().call(Method::kGet, "/api/agents/" + id, {}, admin_.token).body;
    EXPECT_FALSE(now["executor"] == "echo" && !now["config"].empty()) << now.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AgentsApi, ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::agents
