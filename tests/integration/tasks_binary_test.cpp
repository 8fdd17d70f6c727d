// Tasks in the built binary, in both modes from the same test code: embedded (`atrium serve`
// runs the tasks on SQLite) and distributed (`serve` takes them, an `atrium worker` runs them, on
// PostgreSQL through PgBouncer and RabbitMQ from scripts/test-services). What runs the tasks
// reports them in its logs and metrics, and killed mid-task, finishes every task exactly once
// after a restart. The distributed instances name their queues and exchanges with a prefix of
// their own (ATRIUM_BROKER_PREFIX, removed afterwards) and hold the CTest resource lock
// "rabbitmq" (other tests stop and start the shared node).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "broker/rabbitmq/rabbit_task_queue.hpp"
#include "db/open.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serve.hpp"
#include "support/temp_dir.hpp"
#include "support/tenants.hpp"
#include "tasks/store.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

const std::string kBinary = ATRIUM_BINARY;
using testing::call;
using testing::json_line;

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

// Where the tasks run.
enum class Mode { kEmbedded, kDistributed };

std::string mode_name(Mode m) { return m == Mode::kEmbedded ? "embedded" : "distributed"; }
std::string test_name(const ::testing::TestParamInfo<Mode>& info) { return mode_name(info.param); }
// For the "GetParam() = …" of test names and failure messages.
void PrintTo(Mode m, std::ostream* os) { *os << mode_name(m); }

TEST(TasksBinaryModes, PrintByName) {
  EXPECT_EQ(::testing::PrintToString(Mode::kEmbedded), "embedded");
  EXPECT_EQ(::testing::PrintToString(Mode::kDistributed), "distributed");
}

class TasksBinaryTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    env_ = {{"ATRIUM_DATA_DIR", dir_.path().string()},
            {"ATRIUM_WEB_ROOT", (dir_.path() / "no-web").string()},
            {"ATRIUM_WORKERS", "2"},
            {"ATRIUM_TENANT_MAX_RUNNING", "2"},
            {"ATRIUM_TASK_LEASE", "2"},
            {"ATRIUM_TASK_RETRY_DELAY_MS", "0"}};
    if (distributed()) {
      broker_ = testing::env_or_empty("ATRIUM_TEST_RABBITMQ");
      for (auto& b : testing::backends())
        if (b.name == "pgbouncer") database_ = b.create_migrated();
      if (broker_.empty() || !database_)
        GTEST_SKIP() << "needs RabbitMQ, PostgreSQL and PgBouncer from scripts/test-services";
      prefix_ = "test." + new_id();  // queues and exchanges of this test's own
      env_["ATRIUM_BROKER_URL"] = broker_;
      env_["ATRIUM_BROKER_PREFIX"] = prefix_;
      env_["ATRIUM_DATABASE_URL"] = database_->url;
      env_["ATRIUM_DATABASE_MIGRATION_URL"] = database_->migration_url;
      db_ = database_->db.get();
    } else {
      auto migrated = testing::run({kBinary, "migrate"}, env_);
      ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
      auto db = db::open("sqlite://" + (dir_.path() / "atrium.db").string(), {.pool_size = 2});
      ASSERT_TRUE(db);
      sqlite_ = std::move(*db);
      db_ = sqlite_.get();
    }
    store_ = std::make_unique<tasks::TaskStore>(*db_, clock_);
  }

  void TearDown() override {
    runners_.clear();
    serve_.reset();
    if (!broker_.empty() && database_) remove_broker_topology();
  }

  bool distributed() const { return GetParam() == Mode::kDistributed; }

  void remove_broker_topology() {
    broker::RabbitOptions o;
    o.url = broker_;
    o.prefix = prefix_;
    auto removed = broker::RabbitTaskQueue::remove_topology(o);
    ASSERT_TRUE(removed) << removed.error().detail;
  }

  // Starts the API (`serve`) and, distributed, a worker; the API's port.
  std::uint16_t start() {
    auto started = testing::start_serve(kBinary, env_);
    serve_ = std::move(started.process);
    port_ = started.port;
    if (distributed()) start_runner();
    return port_;
  }

  // What runs the tasks: `serve` itself (embedded) or the last worker started.
  Process& runner() { return distributed() ? *runners_.back() : *serve_; }
  std::uint16_t runner_port() const { return distributed() ? runner_port_ : port_; }

  // Starts what runs the tasks anew, after the last one was killed: a worker, or (embedded) a
  // new `serve`. The processes replaced are kept for their output.
  void restart_runner() {
    if (distributed()) {
      start_runner();
      return;
    }
    runners_.push_back(std::move(serve_));
    start();
  }

  void start_runner() {
    auto started = testing::start_worker(kBinary, env_);
    runners_.push_back(std::move(started.process));
    runner_port_ = started.port;
  }

  // Everything the processes of this test wrote, for failure messages and log checks.
  std::vector<std::string> outputs() const {
    std::vector<std::string> out;
    for (const auto& p : runners_) out.push_back(p->output());
    if (serve_) out.push_back(serve_->output());
    return out;
  }
  std::string output() const {
    std::string all;
    for (const auto& o : outputs()) all += o + "\n----\n";
    return all;
  }

  // SIGTERM to every process still running: each stops cleanly.
  void stop_all() {
    for (auto& p : runners_) p->signal(SIGTERM);
    if (serve_) serve_->signal(SIGTERM);
    for (auto& p : runners_) {
      auto code = p->wait(15s);
      if (code != 128 + SIGKILL) {
        EXPECT_EQ(code, 0) << p->output();
      }
    }
    if (serve_) {
      EXPECT_EQ(serve_->wait(15s), 0) << serve_->output();
    }
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
  std::string broker_, prefix_;
  std::unique_ptr<testing::TestDatabase> database_;  // distributed
  std::unique_ptr<db::Database> sqlite_;             // embedded
  db::Database* db_ = nullptr;
  std::unique_ptr<Process> serve_;
  std::vector<std::unique_ptr<Process>> runners_;  // workers, and the processes replaced
  std::uint16_t port_ = 0, runner_port_ = 0;
  SystemClock clock_;
  std::unique_ptr<tasks::TaskStore> store_;
  std::string token_, org_, agent_;
  Principal member_;
};

TEST_P(TasksBinaryTest, TasksRunAndAreReportedInLogsAndMetrics) {
  const auto port = start();
  join(port);
  tasks::Task t = create(port, {{"steps", 2}, {"hello", "world"}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 1; }, 30s)) << output();
  auto done = call(port, "GET", "/api/tasks/" + t.id, token_);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.json()["status"], "succeeded");
  EXPECT_EQ(done.json()["output"], nlohmann::json({{"echo", {{"steps", 2}, {"hello", "world"}}}}));

  auto ready = testing::request(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json()["components"]["queue"], "up");
  auto metrics = testing::request(runner_port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("atrium_task_queue_depth"), std::string::npos);
  EXPECT_NE(metrics.body.find("atrium_tasks{status=\"queued\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("atrium_task_transitions_total{status=\"succeeded\"} 1"),
            std::string::npos)
      << metrics.body;

  // One log line per transition, from what ran the task.
  for (const char* status : {"running", "succeeded"}) {
    auto line = runner().wait_for_line(
        [&](const std::string& l) {
          auto j = json_line(l);
          return j && (*j)["msg"] == "task" && (*j)["task_id"] == t.id && (*j)["status"] == status;
        },
        10s);
    EXPECT_TRUE(line) << status << "\n" << output();
  }
  stop_all();
}

TEST_P(TasksBinaryTest, KilledMidTaskEveryTaskFinishesOnceAfterARestart) {
  constexpr int kTasks = 12;
  const auto port = start();
  join(port);
  for (int i = 0; i < kTasks; ++i) create(port, {{"i", i}, {"steps", 4}, {"step_delay_ms", 150}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kRunning) == 2; }, 30s)) << output();
  Process& first = runner();
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait(10s));
  std::set<std::string> interrupted, finished_before;
  for (const auto& t : all()) {
    if (t.status == tasks::Status::kRunning) interrupted.insert(t.id);
    if (t.status == tasks::Status::kSucceeded) finished_before.insert(t.id);
  }
  ASSERT_FALSE(interrupted.empty());
  EXPECT_LT(finished_before.size(), static_cast<std::size_t>(kTasks));

  restart_runner();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == kTasks; }, 120s))
      << output();
  stop_all();

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
  // In the logs of every process: each task finished once. The killed process may have lost its
  // last second of info lines, so a task it finished may be missing, never doubled.
  auto successes = testing::logged_successes(outputs());
  for (const auto& t : rows) {
    if (finished_before.count(t.id)) {
      EXPECT_LE(successes[t.id], 1) << t.id;
    } else {
      EXPECT_EQ(successes[t.id], 1) << t.id;
    }
  }
}

TEST_P(TasksBinaryTest, TheApiWithRealTokensIsConfinedToTheCallersOrganization) {
  const auto port = start();
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
  stop_all();
}

INSTANTIATE_TEST_SUITE_P(Modes, TasksBinaryTest,
                         ::testing::Values(Mode::kEmbedded, Mode::kDistributed), test_name);

}  // namespace
}  // namespace atrium
