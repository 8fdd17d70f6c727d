#include "realtime/session.hpp"

#include <gtest/gtest.h>

#include <utility>

#include "broker/embedded/embedded_event_bus.hpp"
#include "realtime/realtime_test_support.hpp"
#include "support/fake_clock.hpp"

namespace atrium::realtime {
namespace {

using namespace std::chrono_literals;
using testing::FakeConnection;

nlohmann::json task(const std::string& id, const std::string& status) {
  return {{"id", id}, {"status", status}, {"agent_id", "a1"}};
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : hub_(bus_, clock_, HubOptions{.check_interval = 3600s}) {
    tasks_["org-a"]["ta"] = task("ta", "running");
    tasks_["org-a"]["done"] = task("done", "succeeded");
    tasks_["org-b"]["tb"] = task("tb", "running");
  }

  std::shared_ptr<Session> open(std::vector<std::string> permissions = {"tasks:read"},
                                std::string org = "org-a") {
    Principal p;
    p.user_id = "u1";
    p.org_id = org;
    p.permissions = std::move(permissions);
    p.session_id = "s1";
    p.expires_at = clock_.now() + 1h;
    SessionDeps deps;
    deps.hub = &hub_;
    deps.find_task = [this](const Principal& who, const std::string& id) -> Result<nlohmann::json> {
      std::lock_guard l(mu_);
      // Taken out before it runs: a hook runs once and is never reset while running.
      if (auto hook = std::exchange(before_snapshot_, nullptr)) hook();
      auto& mine = tasks_[*who.org_id];  // the caller's tenant only, like the store
      auto it = mine.find(id);
      if (it == mine.end()) return fail(Error::not_found());
      return it->second;
    };
    deps.run_blocking = [](std::function<void()> f) {
      f();
      return true;
    };
    deps.revoked = [this](const Principal&) { return revoked_.load(); };
    auto s = std::make_shared<Session>(p, deps);
    EXPECT_TRUE(hub_.admit(org, s.get()));
    s->on_open(connection_);
    return s;
  }

  // A session of org-a subscribed to the whole organization, on a connection of its own: once it
  // has an event, the bus has delivered that event to every session (in the hub's order, it first).
  std::pair<std::shared_ptr<Session>, std::shared_ptr<FakeConnection>> open_witness() {
    auto connection = std::make_shared<FakeConnection>();
    std::swap(connection_, connection);
    auto witness = open();
    std::swap(connection_, connection);
    witness->on_message(R"({"action":"task-status"})");
    return {witness, connection};
  }

  // Subscribes `s` to task "ta" and expects its snapshot, then the progress step 2 published
  // while the snapshot was read or sent.
  void expect_snapshot_then_step(Session& s) {
    s.on_message(R"({"action":"task-status","task_id":"ta"})");
    auto got = connection_->wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_FALSE(got[0].contains("progress"));  // the snapshot first
    EXPECT_EQ(got[1]["progress"]["step"], 2);
  }

  // A change of task `t` in `org`; with a step, a progress event (step of 3).
  void publish(const std::string& org, const nlohmann::json& t, int step = 0) {
    nlohmann::json payload = {{"task", t}};
    if (step > 0) payload["progress"] = {{"step", step}, {"of", 3}};
    ASSERT_TRUE(bus_.publish({"task.status", org, payload.dump()}));
  }

  broker::EmbeddedEventBus bus_;
  atrium::testing::FakeClock clock_;
  Hub hub_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, nlohmann::json>> tasks_;
  std::function<void()> before_snapshot_;
  std::atomic<bool> revoked_{false};
  std::shared_ptr<FakeConnection> connection_ = std::make_shared<FakeConnection>();
};

TEST_F(SessionTest, PingPongAndErrorsKeepTheConnection) {
  auto s = open();
  s->on_message(R"({"action":"ping"})");
  s->on_message("not json");
  s->on_message("[1,2]");
  s->on_message(R"({"action":"dance"})");
  s->on_message(R"({"no_action":true})");
  auto got = connection_->wait_for(5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], nlohmann::json({{"type", "pong"}}));
  EXPECT_EQ(got[1], nlohmann::json({{"type", "error"}, {"code", "invalid_message"}}));
  EXPECT_EQ(got[2], nlohmann::json({{"type", "error"}, {"code", "invalid_message"}}));
  EXPECT_EQ(got[3], nlohmann::json({{"type", "error"}, {"code", "unknown_action"}}));
  EXPECT_EQ(got[4], nlohmann::json({{"type", "error"}, {"code", "unknown_action"}}));
  s->on_close();
}

TEST_F(SessionTest, SubscribingNeedsTasksRead) {
  auto s = open({"agents:read"});
  s->on_message(R"({"action":"task-status","task_id":"ta"})");
  s->on_message(R"({"action":"task-status"})");
  auto got = connection_->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["code"], "permission_denied");
  EXPECT_EQ(got[1]["code"], "permission_denied");
  s->on_close();
}

TEST_F(SessionTest, OwnTaskSnapshotThenChanges) {
  auto s = open();
  s->on_message(R"({"action":"task-status","task_id":"ta"})");
  auto snap = connection_->wait_for(1);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0]["type"], "task-status");
  EXPECT_EQ(snap[0]["task"]["id"], "ta");
  publish("org-a", task("other", "running"));  // not subscribed to this one
  publish("org-a", task("ta", "running"), 1);
  publish("org-a", task("ta", "succeeded"));
  auto got = connection_->wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1]["progress"]["step"], 1);
  EXPECT_EQ(got[2]["task"]["status"], "succeeded");
  s->on_close();
}

TEST_F(SessionTest, AnotherTenantsTaskIsNotFoundAndSilent) {
  auto s = open();
  s->on_message(R"({"action":"task-status","task_id":"tb"})");
  auto got = connection_->wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], nlohmann::json({{"type", "error"}, {"code", "not_found"}, {"task_id", "tb"}}));
  // Its events, published for its own tenant, never arrive; a later ping proves the order.
  publish("org-b", task("tb", "succeeded"));
  publish("org-a", task("tb", "succeeded"));  // even a forged id in our tenant is not "tb" of B
  s->on_message(R"({"action":"ping"})");
  auto after = connection_->wait_for(2);
  ASSERT_GE(after.size(), 2u);
  for (std::size_t i = 1; i < after.size(); ++i) {
    if (after[i]["type"] == "pong") break;
    EXPECT_NE(after[i].value("task", nlohmann::json::object()).value("id", ""), "tb") << after[i];
  }
  s->on_close();
}

TEST_F(SessionTest, WholeOrganizationSubscription) {
  auto s = open();
  s->on_message(R"({"action":"task-status"})");
  s->on_message(R"({"action":"ping"})");  // processed after the subscription
  ASSERT_EQ(connection_->wait_for(1).size(), 1u);
  publish("org-b", task("tb", "succeeded"));
  publish("org-a", task("ta", "succeeded"));
  auto got = connection_->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["task"]["id"], "ta");
  s->on_message(R"({"action":"unsubscribe"})");
  publish("org-a", task("ta2", "queued"));
  s->on_message(R"({"action":"ping"})");
  auto rest = connection_->wait_for(4);
  ASSERT_GE(rest.size(), 4u);
  EXPECT_EQ(rest[2], nlohmann::json({{"type", "unsubscribed"}}));
  EXPECT_EQ(rest[3], nlohmann::json({{"type", "pong"}}));  // nothing in between
  s->on_close();
}

TEST_F(SessionTest, EventsDuringTheSnapshotAreSentAfterIt) {
  auto [witness, witness_connection] = open_witness();

  auto s = open();
  // While the snapshot is being read, the task changes: the change must follow the snapshot.
  before_snapshot_ = [&] {
    publish("org-a", task("ta", "running"), 2);
    publish("org-a", task("x", "queued"));
    // The second event reached the witness, so the first was delivered everywhere (buffered here).
    ASSERT_EQ(witness_connection->wait_for(2).size(), 2u);
    EXPECT_TRUE(connection_->sent().empty());
  };
  expect_snapshot_then_step(*s);
  s->on_close();
  witness->on_close();
}

TEST_F(SessionTest, OlderEventsAreDroppedWhenTheSnapshotIsFinal) {
  auto [witness, witness_connection] = open_witness();

  auto s = open();
  before_snapshot_ = [&] {
    publish("org-a", task("done", "running"), 1);
    ASSERT_EQ(witness_connection->wait_for(1).size(), 1u);
    publish("org-a", task("x", "queued"));
    ASSERT_EQ(witness_connection->wait_for(2).size(), 2u);
  };
  s->on_message(R"({"action":"task-status","task_id":"done"})");
  s->on_message(R"({"action":"ping"})");
  auto got = connection_->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["task"]["status"], "succeeded");
  EXPECT_EQ(got[1]["type"], "pong");  // the stale "running" step was not sent after it
  s->on_close();
  witness->on_close();
}

// The snapshot is queued before any event delivered after it was read: an event the bus hands
// over while the snapshot is being sent waits for it (it overtook the snapshot once, and a client
// saw a progress step, then "succeeded" read earlier, then nothing more).
TEST_F(SessionTest, AnEventDeliveredWhileTheSnapshotIsSentFollowsIt) {
  auto [witness, witness_connection] = open_witness();

  auto s = open();
  std::atomic<bool> published{false};
  connection_->before_send = [&](const nlohmann::json& m) {
    if (m.contains("progress") || published.exchange(true)) return;
    publish("org-a", task("ta", "running"), 2);
    // The witness comes first in the hub's delivery: once it has the event, this session's
    // delivery is under way.
    ASSERT_EQ(witness_connection->wait_for(1).size(), 1u);
  };
  expect_snapshot_then_step(*s);
  s->on_close();
  witness->on_close();
}

// Events of a task still on their way when its snapshot showed it finished are older news.
TEST_F(SessionTest, EventsArrivingAfterAFinalSnapshotAreDropped) {
  auto [witness, witness_connection] = open_witness();

  auto s = open();
  s->on_message(R"({"action":"task-status","task_id":"done"})");
  ASSERT_EQ(connection_->wait_for(1).size(), 1u);
  publish("org-a", task("done", "running"), 1);
  publish("org-a", task("x", "queued"));
  ASSERT_EQ(witness_connection->wait_for(2).size(), 2u);  // both delivered everywhere
  s->on_message(R"({"action":"ping"})");
  auto got = connection_->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["task"]["status"], "succeeded");
  EXPECT_EQ(got[1]["type"], "pong");
  s->on_close();
  witness->on_close();
}

TEST_F(SessionTest, ExpiryAndRevocationClose4001) {
  auto s = open();
  s->check(clock_.now());
  EXPECT_FALSE(connection_->wait_for_close(0ms));
  s->check(clock_.now() + 2h);
  EXPECT_EQ(connection_->wait_for_close(), 4001);
  s->on_close();

  connection_ = std::make_shared<FakeConnection>();
  auto t = open();
  revoked_ = true;
  t->check(clock_.now());
  EXPECT_EQ(connection_->wait_for_close(), 4001);
  t->on_close();
}

TEST_F(SessionTest, CloseLeavesTheHub) {
  auto s = open();
  EXPECT_EQ(hub_.connections("org-a"), 1u);
  s->on_close();
  s->on_close();
  EXPECT_EQ(hub_.connections("org-a"), 0u);
}

TEST_F(SessionTest, ASessionDroppedWithoutCloseLeavesTheHub) {
  {
    auto dropped = open();
    dropped->on_message(R"({"action":"task-status"})");
    dropped->on_message(R"({"action":"task-status","task_id":"ta"})");
    connection_->wait_for(1);  // the snapshot: both subscriptions are in place
    EXPECT_EQ(hub_.connections("org-a"), 1u);
  }  // e.g. an accepted upgrade that never opened: on_close() never ran
  EXPECT_EQ(hub_.connections("org-a"), 0u);
  EXPECT_EQ(hub_.connections(), 0u);

  // The tenant's next events reach the live subscriber only; a stale entry would be a call into
  // freed memory.
  connection_ = std::make_shared<FakeConnection>();
  auto witness = open();
  witness->on_message(R"({"action":"task-status"})");
  publish("org-a", task("ta", "succeeded"));
  auto got = connection_->wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["task"]["status"], "succeeded");
  witness->on_close();
}

}  // namespace
}  // namespace atrium::realtime
