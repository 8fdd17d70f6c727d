// GET /ws through the real binary, over real TCP, line by line of API.md's WebSocket section.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "db/sqlite/sqlite_database.hpp"
#include "identity/access_token.hpp"
#include "platform/ids.hpp"
#include "support/serve.hpp"
#include "support/tenants.hpp"
#include "support/ws_client.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Serve;
using testing::WsClient;

const std::string kBinary = ATRIUM_BINARY;

// The server's signing key, so a test can present a token of its own making.
const JwtKey kKey{"test", "a realtime test key of more than thirty-two bytes"};

struct Account {
  std::string user_id;
  std::string token;
  std::string refresh_token;
  std::string org_id;
};

class RealtimeBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_ = std::make_unique<Serve>(
        kBinary,
        std::map<std::string, std::string>{{"ATRIUM_JWT_KEYS", kKey.kid + ":" + kKey.secret}});
    alice_ = signup("alice@example.com", "Alice Org");
    bob_ = signup("bob@example.com", "Bob Org");
  }

  Account signup(const std::string& email, const std::string& org) {
    auto r = serve_->post(
        "/api/auth/signup",
        {{"email", email}, {"password", "a long enough password"}, {"organization_name", org}});
    EXPECT_EQ(r.status, 201) << r.body;
    auto b = r.json();
    return {b["user"]["id"], b["access_token"], b["refresh_token"], b["organization"]["id"]};
  }

  // An echo agent, written into the database the server uses (the agents API is another room).
  std::string agent(const Account& a) {
    auto db = db::sqlite::open({.path = (serve_->dir().path() / "atrium.db").string()});
    EXPECT_TRUE(db);
    return testing::add_agent(**db, a.org_id, "echo");
  }

  std::string run_task(const Account& a, const std::string& agent_id, const json& input) {
    auto r = serve_->post("/api/agents/" + agent_id + "/tasks", {{"input", input}}, a.token);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json()["id"];
  }

  std::map<std::string, std::string> bearer(const Account& a) {
    return {{"Authorization", "Bearer " + a.token}};
  }

  // Sends a ping and returns every message that arrived before the pong: messages are in order,
  // so whatever was due before the ping has arrived.
  std::vector<json> until_pong(WsClient& ws) {
    ws.send(R"({"action":"ping"})");
    std::vector<json> got;
    for (;;) {
      auto m = ws.read(10s);
      if (!m) {
        ADD_FAILURE() << "no pong";
        return got;
      }
      auto j = json::parse(*m);
      if (j["type"] == "pong") return got;
      got.push_back(j);
    }
  }

  std::unique_ptr<Serve> serve_;
  Account alice_, bob_;
};

TEST_F(RealtimeBinary, NoCredentialIsRefusedBeforeUpgrade) {
  WsClient none(serve_->port(), "/ws");
  EXPECT_FALSE(none.open());
  EXPECT_EQ(none.status(), 401);
  EXPECT_EQ(json::parse(none.body())["code"], "unauthenticated");

  // A token in the query string is refused like no credential.
  WsClient query(serve_->port(), "/ws?access_token=" + alice_.token);
  EXPECT_FALSE(query.open());
  EXPECT_EQ(query.status(), 401);
  WsClient query2(serve_->port(), "/ws?token=" + alice_.token);
  EXPECT_EQ(query2.status(), 401);

  WsClient forged(serve_->port(), "/ws", {{"Authorization", "Bearer not.a.token"}});
  EXPECT_EQ(forged.status(), 401);
  WsClient forged_protocol(serve_->port(), "/ws", {}, {"atrium.v1", "bearer.not.a.token"});
  EXPECT_EQ(forged_protocol.status(), 401);
}

TEST_F(RealtimeBinary, BearerHeaderAndSubprotocolsAuthenticate) {
  WsClient header(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(header.open()) << header.status() << header.body();
  header.send(R"({"action":"ping"})");
  EXPECT_EQ(json::parse(*header.read()), json({{"type", "pong"}}));

  WsClient browser(serve_->port(), "/ws", {}, {"atrium.v1", "bearer." + alice_.token});
  ASSERT_TRUE(browser.open()) << browser.status() << browser.body();
  EXPECT_EQ(browser.subprotocol(), "atrium.v1");  // never the bearer one
}

TEST_F(RealtimeBinary, TicketsAreSingleUse) {
  auto issued = serve_->post("/api/realtime/ticket", json::object(), alice_.token);
  ASSERT_EQ(issued.status, 200) << issued.body;
  EXPECT_EQ(issued.json()["expires_in"], 30);
  const std::string ticket = issued.json()["ticket"];
  WsClient first(serve_->port(), "/ws?ticket=" + ticket);
  ASSERT_TRUE(first.open()) << first.body();
  WsClient second(serve_->port(), "/ws?ticket=" + ticket);
  EXPECT_FALSE(second.open());
  EXPECT_EQ(second.status(), 401);
  EXPECT_EQ(serve_->post("/api/realtime/ticket", json::object()).status, 401);
}

TEST_F(RealtimeBinary, ForeignOriginsAreRefused) {
  auto headers = bearer(alice_);
  headers["Origin"] = "https://evil.example";
  WsClient evil(serve_->port(), "/ws", headers);
  EXPECT_FALSE(evil.open());
  EXPECT_EQ(evil.status(), 403);
  headers["Origin"] = "http://127.0.0.1";  // the client's Host header is 127.0.0.1
  WsClient same(serve_->port(), "/ws", headers);
  EXPECT_TRUE(same.open()) << same.status() << same.body();
}

TEST_F(RealtimeBinary, OwnTaskSnapshotProgressAndResult) {
  const auto agent_id = agent(alice_);
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  const auto task_id = run_task(alice_, agent_id, {{"steps", 3}});
  ws.send(json({{"action", "task-status"}, {"task_id", task_id}}).dump());

  std::vector<int> steps;
  std::string status;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (status != "succeeded" && std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(10s);
    ASSERT_TRUE(m) << "connection ended";
    auto j = json::parse(*m);
    ASSERT_EQ(j["type"], "task-status") << j;
    ASSERT_EQ(j["task"]["id"], task_id);
    status = j["task"]["status"];
    if (j.contains("progress")) {
      EXPECT_EQ(j["progress"]["of"], 3);
      steps.push_back(j["progress"]["step"]);
    }
  }
  EXPECT_EQ(status, "succeeded");
  // The snapshot may already show a later state; whatever progress arrived counts up, ending at 3.
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  if (!steps.empty()) {
    EXPECT_EQ(steps.back(), 3);
  }
}

TEST_F(RealtimeBinary, AnotherTenantsTaskIsNotFoundAndNeverHeardOf) {
  const auto bob_agent = agent(bob_);
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  ws.send(R"({"action":"task-status"})");  // every task of Alice's organization
  const auto bob_task = run_task(bob_, bob_agent, {{"steps", 2}});
  ws.send(json({{"action", "task-status"}, {"task_id", bob_task}}).dump());
  auto first = ws.read(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(json::parse(*first),
            json({{"type", "error"}, {"code", "not_found"}, {"task_id", bob_task}}));

  // Wait for Bob's task to finish, then make sure Alice heard nothing of it.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string status;
  while (status != "succeeded" && std::chrono::steady_clock::now() < deadline)
    status = serve_->get("/api/tasks/" + bob_task, bob_.token).json().value("status", "");
  ASSERT_EQ(status, "succeeded");
  for (const auto& m : until_pong(ws)) ADD_FAILURE() << "leaked: " << m;
}

TEST_F(RealtimeBinary, OrganizationSubscriptionSeesOnlyItsOwnTasks) {
  const auto alice_agent = agent(alice_);
  const auto bob_agent = agent(bob_);
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  ws.send(R"({"action":"task-status"})");
  until_pong(ws);  // the subscription is in place
  run_task(bob_, bob_agent, json::object());
  const auto mine = run_task(alice_, alice_agent, json::object());
  std::string status;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (status != "succeeded" && std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(10s);
    ASSERT_TRUE(m);
    auto j = json::parse(*m);
    ASSERT_EQ(j["task"]["id"], mine) << "another organization's task leaked: " << j;
    status = j["task"]["status"];
  }
  EXPECT_EQ(status, "succeeded");
  ws.send(R"({"action":"unsubscribe"})");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "unsubscribed"}}));
}

TEST_F(RealtimeBinary, ProtocolErrorsKeepTheConnectionOpen) {
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  ws.send("not json");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "error"}, {"code", "invalid_message"}}));
  ws.send(R"({"action":"$connect"})");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "error"}, {"code", "unknown_action"}}));
  ws.send(R"({"action":"ping"})");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "pong"}}));
}

TEST_F(RealtimeBinary, WithoutTasksReadSubscribingIsDenied) {
  auto key = serve_->post(
      "/api/api-keys", {{"name", "agents only"}, {"permissions", {"agents:read"}}}, alice_.token);
  ASSERT_EQ(key.status, 201) << key.body;
  WsClient ws(serve_->port(), "/ws",
              {{"Authorization", "Bearer " + key.json()["key"].get<std::string>()}});
  ASSERT_TRUE(ws.open()) << ws.status() << ws.body();
  ws.send(R"({"action":"task-status"})");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "error"}, {"code", "permission_denied"}}));
}

TEST_F(RealtimeBinary, OversizedFrameCloses1009) {
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  ws.send(std::string(64 * 1024 + 1, 'x'));
  EXPECT_FALSE(ws.read(10s));
  EXPECT_EQ(ws.close_code(), 1009);
}

TEST_F(RealtimeBinary, LogoutCloses4001) {
  WsClient ws(serve_->port(), "/ws", bearer(alice_));
  ASSERT_TRUE(ws.open());
  ASSERT_EQ(serve_->post("/api/auth/logout", {{"refresh_token", alice_.refresh_token}}).status,
            204);
  EXPECT_FALSE(ws.read(10s));  // closed within the revocation window (5 s), not by the timeout
  EXPECT_EQ(ws.close_code(), 4001);
}

TEST_F(RealtimeBinary, ExpiryCloses4001) {
  // A token that expires a second from now: it still authenticates (verification allows
  // identity::kLeeway of clock skew), and the connection closes when `exp` passes.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  identity::AccessClaims c;
  c.sub = alice_.user_id;
  c.email = "alice@example.com";
  c.org_id = alice_.org_id;
  c.permissions = {"tasks:read"};
  c.iat = now;
  c.exp = now + 1;
  c.jti = new_id();
  c.sid = new_id();
  identity::KeyRing keys({kKey});
  auto token = identity::sign_access_token(keys, c);
  ASSERT_TRUE(token);

  WsClient ws(serve_->port(), "/ws", {{"Authorization", "Bearer " + *token}});
  ASSERT_TRUE(ws.open()) << ws.status() << ws.body();
  ws.send(R"({"action":"ping"})");
  EXPECT_EQ(json::parse(*ws.read()), json({{"type", "pong"}}));
  EXPECT_FALSE(ws.read(10s));
  EXPECT_EQ(ws.close_code(), 4001);
}

}  // namespace
}  // namespace atrium
