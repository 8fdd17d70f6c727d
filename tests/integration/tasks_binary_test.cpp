// Tasks in the built `atrium serve`: the in-process workers run what the database holds, and a
// server killed mid-task finishes every task exactly once after a restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "db/open.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tenants.hpp"
#include "tasks/store.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

const std::string kBinary = ATRIUM_BINARY;

std::optional<nlohmann::json> json_line(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::uint16_t start_serve(Process& p) {
  auto line = p.wait_for_line(
      [](const std::string& l) {
        auto j = json_line(l);
        return j && (*j)["msg"] == "listening";
      },
      30s);
  if (!line) throw std::runtime_error("serve did not start: " + p.output());
  return (*json_line(*line))["port"].get<std::uint16_t>();
}

testing::HttpResponse call(std::uint16_t port, const std::string& method, const std::string& path,
                           const std::string& token, const nlohmann::json& body = nullptr) {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  if (!body.is_null()) headers["Content-Type"] = "application/json";
  return testing::request(port, method, path, body.is_null() ? "" : body.dump(), headers);
}

// A new user and organization; returns {access token, organization id}.
std::pair<std::string, std::string> sign_up(std::uint16_t port, const std::string& email) {
  auto r = call(port, "POST", "/api/auth/signup", "",
                {{"email", email},
                 {"password", "a long enough password"},
                 {"organization_name", "Org of " + email}});
  if (r.status != 201) throw std::runtime_error("signup failed: " + r.body);
  auto b = r.json();
  return {b["access_token"].get<std::string>(), b["organization"]["id"].get<std::string>()};
}

class TasksBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"ATRIUM_DATA_DIR", dir_.path().string()},
            {"ATRIUM_WEB_ROOT", (dir_.path() / "no-web").string()},
            {"ATRIUM_WORKERS", "2"},
            {"ATRIUM_TENANT_MAX_RUNNING", "2"},
            {"ATRIUM_TASK_LEASE", "2"},
            {"ATRIUM_TASK_RETRY_DELAY_MS", "0"}};
    auto migrated = testing::run({kBinary, "migrate"}, env_);
    ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
    auto db = db::open("sqlite://" + (dir_.path() / "atrium.db").string(), {.pool_size = 2});
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    store_ = std::make_unique<tasks::TaskStore>(*db_, clock_);
  }

  // Signs up through `port`; the agent is written straight to the database (the agents API is
  // another module's).
  void join(std::uint16_t port) {
    std::tie(token_, org_) = sign_up(port, "owner@example.com");
    agent_ = testing::add_agent(*db_, org_, "echo");
    member_ = testing::member_of(org_);
  }

  tasks::Task create(std::uint16_t port, nlohmann::json input) {
    auto r = call(port, "POST", "/api/agents/" + agent_ + "/tasks", token_, {{"input", input}});
    EXPECT_EQ(r.status, 202) << r.body;
    auto got = store_->get(member_, r.json().value("id", ""));
    EXPECT_TRUE(got);
    return got ? *got : tasks::Task{};
  }

  std::vector<tasks::Task> all() {
    auto list = store_->list(member_, {.limit = 100});
    EXPECT_TRUE(list);
    return list ? *list : std::vector<tasks::Task>{};
  }

  int count(tasks::Status s) {
    int n = 0;
    for (const auto& t : all()) n += t.status == s;
    return n;
  }

  // Polls the database until `done` or the deadline.
  bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }

  TempDir dir_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<db::Database> db_;
  SystemClock clock_;
  std::unique_ptr<tasks::TaskStore> store_;
  std::string token_, org_, agent_;
  Principal member_;
};

TEST_F(TasksBinaryTest, ServeRunsTasksAndReportsThemInMetrics) {
  Process p({kBinary, "serve", "--listen", "127.0.0.1:0"}, env_);
  auto port = start_serve(p);
  join(port);
  tasks::Task t = create(port, {{"steps", 2}, {"hello", "world"}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 1; }, 30s)) << p.output();
  auto done = call(port, "GET", "/api/tasks/" + t.id, token_);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.json()["status"], "succeeded");
  EXPECT_EQ(done.json()["output"], nlohmann::json({{"echo", {{"steps", 2}, {"hello", "world"}}}}));

  auto ready = testing::request(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json()["components"]["queue"], "up");
  auto metrics = testing::request(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("atrium_task_queue_depth"), std::string::npos);
  EXPECT_NE(metrics.body.find("atrium_tasks{status=\"queued\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("atrium_task_transitions_total{status=\"succeeded\"} 1"),
            std::string::npos)
      << metrics.body;

  // One log line per transition.
  for (const char* status : {"running", "succeeded"}) {
    auto line = p.wait_for_line(
        [&](const std::string& l) {
          auto j = json_line(l);
          return j && (*j)["msg"] == "task" && (*j)["task_id"] == t.id && (*j)["status"] == status;
        },
        10s);
    EXPECT_TRUE(line) << status << "\n" << p.output();
  }
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(15s), 0);
}

TEST_F(TasksBinaryTest, AServerKilledMidTaskFinishesEveryTaskOnceAfterARestart) {
  constexpr int kTasks = 12;
  auto first = std::make_unique<Process>(
      std::vector<std::string>{kBinary, "serve", "--listen", "127.0.0.1:0"}, env_);
  const auto port = start_serve(*first);
  join(port);
  for (int i = 0; i < kTasks; ++i) create(port, {{"i", i}, {"steps", 4}, {"step_delay_ms", 150}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kRunning) == 2; }, 30s))
      << first->output();
  first->signal(SIGKILL);
  ASSERT_TRUE(first->wait(10s));
  std::set<std::string> interrupted;
  for (const auto& t : all())
    if (t.status == tasks::Status::kRunning) interrupted.insert(t.id);
  ASSERT_FALSE(interrupted.empty());
  const int finished_before = count(tasks::Status::kSucceeded);
  EXPECT_LT(finished_before, kTasks);

  Process second({kBinary, "serve", "--listen", "127.0.0.1:0"}, env_);
  start_serve(second);
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == kTasks; }, 120s))
      << second.output();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait(15s), 0);

  // In the table: every task once, succeeded with its own output; the interrupted ones ran again.
  auto rows = all();
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kTasks));
  for (const auto& t : rows) {
    EXPECT_EQ(t.status, tasks::Status::kSucceeded);
    EXPECT_EQ(t.output["echo"], t.input);
    EXPECT_LE(t.attempts, 3);
    if (interrupted.count(t.id)) {
      EXPECT_GE(t.attempts, 2) << t.id;
    }
  }
  // In the logs of both processes: no task finished twice.
  std::map<std::string, int> successes;
  for (const std::string& out : {first->output(), second.output()}) {
    std::size_t start = 0;
    for (auto nl = out.find('\n'); nl != std::string::npos;
         start = nl + 1, nl = out.find('\n', start)) {
      auto j = json_line(out.substr(start, nl - start));
      if (j && (*j)["msg"] == "task" && (*j)["status"] == "succeeded")
        ++successes[(*j)["task_id"].get<std::string>()];
    }
  }
  // (The killed process may have lost its last second of info lines: none missing is not checked.)
  for (const auto& [id, n] : successes) EXPECT_EQ(n, 1) << id;
  EXPECT_FALSE(successes.empty());
}

TEST_F(TasksBinaryTest, TheApiWithRealTokensIsConfinedToTheCallersOrganization) {
  Process p({kBinary, "serve", "--listen", "127.0.0.1:0"}, env_);
  auto port = start_serve(p);
  join(port);
  auto [other_token, other_org] = sign_up(port, "rival@example.com");

  // A task that runs for a while, cancelled while it runs.
  tasks::Task slow = create(port, {{"steps", 20}, {"step_delay_ms", 500}});
  ASSERT_TRUE(eventually(
      [&] { return store_->get(member_, slow.id)->status == tasks::Status::kRunning; }, 30s));
  EXPECT_EQ(call(port, "POST", "/api/tasks/" + slow.id + "/cancel", other_token).status, 404);
  auto cancelled = call(port, "POST", "/api/tasks/" + slow.id + "/cancel", token_);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json()["status"], "cancelled");
  auto again = call(port, "POST", "/api/tasks/" + slow.id + "/cancel", token_);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["code"], "conflict");

  EXPECT_EQ(call(port, "GET", "/api/tasks/" + slow.id, other_token).status, 404);
  auto theirs = call(port, "GET", "/api/tasks", other_token);
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(theirs.json()["items"].empty());
  auto by_agent = call(port, "GET", "/api/tasks?agent_id=" + agent_, other_token);
  ASSERT_EQ(by_agent.status, 200);
  EXPECT_TRUE(by_agent.json()["items"].empty());
  EXPECT_EQ(
      call(port, "POST", "/api/agents/" + agent_ + "/tasks", other_token, {{"input", 1}}).status,
      404);
  auto mine = call(port, "GET", "/api/tasks", token_);
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.json()["items"].size(), 1u);
  EXPECT_EQ(call(port, "GET", "/api/tasks", "").status, 401);

  // An idempotency key replayed over HTTP.
  const std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token_},
                                                   {"Content-Type", "application/json"},
                                                   {"Idempotency-Key", "retry-me"}};
  auto first =
      testing::request(port, "POST", "/api/agents/" + agent_ + "/tasks", R"({"input":1})", headers);
  auto second =
      testing::request(port, "POST", "/api/agents/" + agent_ + "/tasks", R"({"input":1})", headers);
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(second.status, 202) << second.body;
  EXPECT_EQ(first.json()["id"], second.json()["id"]);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(15s), 0);
}

}  // namespace
}  // namespace atrium
