// Distributed mode in the built binary: `atrium serve` replicas and `atrium worker` processes
// sharing PostgreSQL through PgBouncer (transaction pooling, as deployed) and RabbitMQ (the
// throwaway services of scripts/test-services), with the faults the mode must survive: a worker
// killed mid-task, a broker restart while tasks flow, a broker that is down while tasks are
// accepted.
//
// Tasks are created through a replica's HTTP API, as clients do; agents are written straight to
// the database (the agents API is another module's). Every test holds the CTest resource lock
// "rabbitmq" (some stop the shared node) and names its queues and exchanges with a prefix of its
// own (ATRIUM_BROKER_PREFIX), removed afterwards; each has a database of its own.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "broker/embedded/embedded_event_bus.hpp"
#include "broker/outbox.hpp"
#include "broker/rabbitmq/rabbit_task_queue.hpp"
#include "db/open.hpp"
#include "db/postgres/postgres_database.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/counting_queue.hpp"
#include "support/fake_clock.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serve.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"
#include "support/tenants.hpp"
#include "support/ws_client.hpp"
#include "tasks/store.hpp"
#include "tasks/worker.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Process;

const std::string kBinary = ATRIUM_BINARY;
const std::string kServices = std::string(ATRIUM_SOURCE_DIR) + "/scripts/test-services";
using testing::env_or_empty;

// Fails a task's first attempt with a retryable error; succeeds after. Counts runs.
class FailsFirstAttempt final : public tasks::Executor {
 public:
  tasks::Outcome run(tasks::Execution& ex) override {
    ++runs;
    if (ex.task.attempts == 1) return tl::unexpected(tasks::ExecutionError{"try again", true});
    return json{{"ok", true}};
  }
  std::atomic<int> runs{0};
};

class DistributedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = env_or_empty("ATRIUM_TEST_RABBITMQ");
    for (auto& b : testing::backends())
      if (b.name == "pgbouncer") database_ = b.create_migrated();
    if (broker_.empty() || !database_)
      GTEST_SKIP() << "needs RabbitMQ, PostgreSQL and PgBouncer from scripts/test-services";
    prefix_ = "test." + new_id();                       // queues and exchanges of this test's own
    env_ = {{"ATRIUM_DATA_DIR", dir_.path().string()},  // shared: the generated keys
            {"ATRIUM_DATABASE_URL", database_->url},
            {"ATRIUM_DATABASE_MIGRATION_URL", database_->migration_url},
            {"ATRIUM_WEB_ROOT", (dir_.path() / "no-web").string()},
            {"ATRIUM_BROKER_URL", broker_},
            {"ATRIUM_BROKER_PREFIX", prefix_},
            {"ATRIUM_WORKERS", "2"},
            {"ATRIUM_TENANT_MAX_RUNNING", "2"},
            {"ATRIUM_TASK_LEASE", "2"},
            {"ATRIUM_TASK_RETRY_DELAY_MS", "0"}};
    store_ = std::make_unique<tasks::TaskStore>(*database_->db, clock_);
  }

  // Signs up through `port` and adds an echo agent to the new organization.
  void join(std::uint16_t port) {
    auto r = call(port, "POST", "/api/auth/signup",
                  {{"email", "owner@example.com"},
                   {"password", "a long enough password"},
                   {"organization_name", "Acme"}});
    ASSERT_EQ(r.status, 201) << r.body;
    token_ = r.json()["access_token"];
    refresh_token_ = r.json()["refresh_token"];
    org_ = r.json()["organization"]["id"];
    agent_ = testing::add_agent(*database_->db, org_, "echo");
    member_ = testing::member_of(org_);
  }

  testing::HttpResponse call(std::uint16_t port, const std::string& method, const std::string& path,
                             const json& body = nullptr) const {
    return testing::call(port, method, path, token_, body);
  }

  void TearDown() override {
    processes_.clear();
    if (!broker_.empty() && database_) remove_broker_topology();
  }

  broker::RabbitOptions rabbit_options() const {
    broker::RabbitOptions o;
    o.url = broker_;
    o.prefix = prefix_;
    return o;
  }

  void remove_broker_topology() {
    auto removed = broker::RabbitTaskQueue::remove_topology(rabbit_options());
    ASSERT_TRUE(removed) << removed.error().detail;
  }

  Process& serve() { return keep(testing::start_serve(kBinary, env_)); }
  Process& worker() { return keep(testing::start_worker(kBinary, env_)); }

  Process& keep(testing::Started started) {
    processes_.push_back(std::move(started.process));
    last_port_ = started.port;
    return *processes_.back();
  }

  // Creates a task through the API of the replica on `port`; its id.
  std::string create(std::uint16_t port, json input) {
    auto r = call(port, "POST", "/api/agents/" + agent_ + "/tasks", {{"input", input}});
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json().value("id", "");
  }

  std::vector<tasks::Task> all() {
    auto list = store_->list(member_, {.limit = 200});
    EXPECT_TRUE(list);
    return list ? *list : std::vector<tasks::Task>{};
  }

  int count(tasks::Status s) {
    int n = 0;
    for (const auto& t : all()) n += t.status == s;
    return n;
  }

  // Polls until `done` or the deadline.
  bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }

  std::string output() const {
    std::string out;
    for (const auto& p : processes_) out += p->output() + "\n----\n";
    return out;
  }

  std::vector<std::string> outputs() const {
    std::vector<std::string> v;
    for (const auto& p : processes_) v.push_back(p->output());
    return v;
  }

  // Every task succeeded with its own output, and each logged its success exactly once — or, for
  // the tasks in `may_be_unlogged` (finished by a process that was then killed before its logs
  // were flushed), at most once.
  void expect_each_finished_once(std::size_t expected,
                                 const std::set<std::string>& may_be_unlogged = {}) {
    auto rows = all();
    ASSERT_EQ(rows.size(), expected);
    // Info lines reach the pipe within a second of the transition.
    std::map<std::string, int> n;
    eventually(
        [&] {
          n = testing::logged_successes(outputs());
          for (const auto& t : rows)
            if (!may_be_unlogged.count(t.id) && n[t.id] == 0) return false;
          return true;
        },
        10s);
    for (const auto& t : rows) {
      EXPECT_EQ(t.status, tasks::Status::kSucceeded) << t.id;
      EXPECT_EQ(t.output["echo"], t.input) << t.id;
      if (may_be_unlogged.count(t.id)) {
        EXPECT_LE(n[t.id], 1) << t.id << " finished twice";
      } else {
        EXPECT_EQ(n[t.id], 1) << t.id << " logged " << n[t.id] << " successes";
      }
    }
  }

  static void services(const std::string& action) {
    auto r = testing::run({kServices, action, "rabbitmq"}, {}, 3min);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  testing::TempDir dir_;
  std::string broker_, prefix_;
  std::unique_ptr<testing::TestDatabase> database_;
  std::map<std::string, std::string> env_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::uint16_t last_port_ = 0;
  SystemClock clock_;
  std::unique_ptr<tasks::TaskStore> store_;
  std::string token_, refresh_token_, org_, agent_;
  Principal member_;
};

TEST_F(DistributedTest, ServeRelaysAndAWorkerRunsTasks) {
  serve();
  const auto serve_port = last_port_;
  ASSERT_NO_FATAL_FAILURE(join(serve_port));
  worker();
  const auto worker_port = last_port_;
  for (int i = 0; i < 5; ++i) create(serve_port, {{"i", i}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 5; }, 60s)) << output();
  expect_each_finished_once(5);

  for (auto port : {serve_port, worker_port}) {
    auto ready = testing::request(port, "GET", "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.json()["components"]["queue"], "up");
    EXPECT_EQ(ready.json()["components"]["events"], "up");
  }
  auto metrics = testing::request(worker_port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("atrium_task_transitions_total{status=\"succeeded\"} 5"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("atrium_task_dead_letters"), std::string::npos);
  EXPECT_EQ(testing::request(worker_port, "GET", "/api/me").status, 404) << "no API on a worker";
}

TEST_F(DistributedTest, AWorkerKilledMidTaskHasItsTasksRunAgainAndFinishedOnce) {
  constexpr int kTasks = 8;
  serve();
  ASSERT_NO_FATAL_FAILURE(join(last_port_));
  for (int i = 0; i < kTasks; ++i)
    create(last_port_, {{"i", i}, {"steps", 4}, {"step_delay_ms", 150}});
  Process& first = worker();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kRunning) == 2; }, 60s)) << output();
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait(10s));
  std::set<std::string> interrupted, finished_before;
  for (const auto& t : all()) {
    if (t.status == tasks::Status::kRunning) interrupted.insert(t.id);
    if (t.status == tasks::Status::kSucceeded) finished_before.insert(t.id);
  }
  ASSERT_FALSE(interrupted.empty());

  worker();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == kTasks; }, 120s))
      << output();
  expect_each_finished_once(kTasks, finished_before);
  for (const auto& t : all()) {
    if (interrupted.count(t.id)) {
      EXPECT_GE(t.attempts, 2) << t.id;
    }
  }
}

TEST_F(DistributedTest, AWorkerStoppedGracefullyGivesItsTasksBackForAnotherToFinish) {
  serve();
  ASSERT_NO_FATAL_FAILURE(join(last_port_));
  for (int i = 0; i < 2; ++i) create(last_port_, {{"i", i}, {"steps", 20}, {"step_delay_ms", 500}});
  Process& first = worker();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kRunning) == 2; }, 60s)) << output();
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(20s), 0) << output();
  EXPECT_EQ(count(tasks::Status::kRunning), 0) << "given back, not left running";
  EXPECT_EQ(count(tasks::Status::kFailed), 0);

  worker();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 2; }, 120s)) << output();
  expect_each_finished_once(2);
}

TEST_F(DistributedTest, ARabbitMqRestartWhileTasksFlowLosesNoneAndRunsNoneTwice) {
  serve();
  const auto port = last_port_;
  ASSERT_NO_FATAL_FAILURE(join(port));
  worker();
  int made = 0;
  for (; made < 10; ++made) create(port, {{"i", made}, {"steps", 2}, {"step_delay_ms", 50}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) >= 2; }, 60s)) << output();
  services("pause");
  for (; made < 20; ++made) create(port, {{"i", made}});  // accepted while the broker is away
  services("resume");
  for (; made < 30; ++made) create(port, {{"i", made}});
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == made; }, 180s))
      << output();
  expect_each_finished_once(static_cast<std::size_t>(made));
}

TEST_F(DistributedTest, TasksAcceptedWhileTheBrokerIsDownRunOnceItIsBack) {
  serve();
  const auto serve_port = last_port_;
  ASSERT_NO_FATAL_FAILURE(join(serve_port));
  worker();
  services("pause");
  ASSERT_TRUE(eventually(
      [&] {
        auto r = testing::request(serve_port, "GET", "/readyz");
        return r.status == 503 && r.body.find("queue") != std::string::npos &&
               r.body.find("events") != std::string::npos;
      },
      30s))
      << output();
  for (int i = 0; i < 6; ++i) create(serve_port, {{"i", i}});
  services("resume");
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 6; }, 120s)) << output();
  expect_each_finished_once(6);
  EXPECT_TRUE(eventually(
      [&] { return testing::request(serve_port, "GET", "/readyz").status == 200; }, 30s));
}

TEST_F(DistributedTest, ATaskWhoseMessageIsDeadLetteredEndsFailedWithAClearErrorAudited) {
  serve();
  ASSERT_NO_FATAL_FAILURE(join(last_port_));
  const std::string id = create(last_port_, {{"i", 0}});  // no worker yet: the message waits
  broker::RabbitOptions o = rabbit_options();
  auto q = broker::RabbitTaskQueue::create(o);
  ASSERT_TRUE(q);
  // A poison message: every consumer it reaches dies before acknowledging it (its connection
  // closes), until the queue gives up on it after the delivery limit.
  for (int delivery = 1; delivery <= o.delivery_limit + 1; ++delivery) {
    auto c = (*q)->consume({.prefetch = 1});
    ASSERT_TRUE(c) << c.error().detail;
    std::optional<broker::Delivery> got;
    ASSERT_TRUE(eventually(
        [&] {
          auto d = (*c)->next(100ms);
          if (d && *d) got = **d;
          return got.has_value();
        },
        30s))
        << "delivery " << delivery;
    EXPECT_EQ(got->delivery_count, delivery);
  }
  ASSERT_TRUE(eventually([&] { return (*q)->count_dead_letters().value_or(0) == 1; }, 30s));
  EXPECT_EQ(store_->get(member_, id)->status, tasks::Status::kQueued);

  worker();
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kFailed) == 1; }, 60s)) << output();
  auto failed = store_->get(member_, id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error, std::string(tasks::kDeadLetteredError));
  EXPECT_EQ(failed->attempts, 0) << "it never ran";
  EXPECT_TRUE(eventually([&] { return (*q)->count_dead_letters().value_or(1) == 0; }, 30s));
  auto audit = database_->db->transact({.tenant = org_}, [&](db::Tx& tx) {
    return tx.query("SELECT action, actor_type FROM audit_log WHERE target_id = $1", {id});
  });
  ASSERT_TRUE(audit);
  std::set<std::string> actions;
  for (const auto& row : *audit) actions.insert(row.text(0) + " by " + row.text(1));
  EXPECT_TRUE(actions.count("task.dead_letter by system")) << output();
}

TEST_F(DistributedTest, AWorkerHoldsItsTaskWhileTheDatabaseIsAwayAndFinishesItOnceItIsBack) {
  // A PostgreSQL and a PgBouncer of this test's own: the shared ones are never stopped. A pool of
  // several server connections, as deployed: the worker is stopped below, possibly inside a
  // transaction, which must not hold the only connection `serve` has.
  testing::PrivateServices pg({"postgres", "pgbouncer"},
                              {{"ATRIUM_TEST_PGBOUNCER_POOL_SIZE", "8"}});
  const std::string bouncer = pg.env("ATRIUM_TEST_PGBOUNCER");
  {
    auto admin = db::postgres::AdminSession::connect("postgresql://postgres@" +
                                                     pg.env("ATRIUM_TEST_POSTGRES") + "/postgres");
    ASSERT_TRUE(admin);
    ASSERT_TRUE(admin->run("CREATE DATABASE atrium OWNER atrium_owner"));
  }
  env_["ATRIUM_DATABASE_URL"] = "postgresql://atrium@" + bouncer + "/atrium";
  env_["ATRIUM_DATABASE_MIGRATION_URL"] = "postgresql://atrium_owner@" + bouncer + "/atrium";
  serve();  // migrates
  const auto port = last_port_;
  auto owner = db::open(env_["ATRIUM_DATABASE_MIGRATION_URL"], {.pool_size = 2});
  ASSERT_TRUE(owner) << owner.error().detail;
  database_ = std::make_unique<testing::TestDatabase>();
  database_->db = std::move(*owner);
  store_ = std::make_unique<tasks::TaskStore>(*database_->db, clock_);
  ASSERT_NO_FATAL_FAILURE(join(port));

  Process& w = worker();
  w.signal(SIGSTOP);  // so that the message reaches it while the database is away
  const std::string id = create(port, {{"i", 1}});
  pg.pause("pgbouncer");
  w.signal(SIGCONT);
  // The worker keeps trying, after pauses that double from 250 ms until they reach their cap of
  // 5 s (a database back within seconds starts the task within seconds, not after 30 s as it
  // once did): the database stays away until the pause has reached the cap.
  std::vector<std::int64_t> pauses;
  auto capped = w.wait_for_line(
      [&](const std::string& l) {
        auto j = testing::json_line(l);
        if (!j || (*j)["msg"] != "task claim failed; message held" || (*j)["task_id"] != id)
          return false;
        pauses.push_back(j->value("retry_in_ms", std::int64_t{0}));
        return pauses.back() >= 5000 || pauses.size() >= 10;
      },
      90s);
  pg.resume("pgbouncer");
  ASSERT_TRUE(capped) << output();
  EXPECT_EQ(pauses, (std::vector<std::int64_t>{250, 500, 1000, 2000, 4000, 5000}));

  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 1; }, 60s)) << output();
  expect_each_finished_once(1);
  EXPECT_EQ(store_->get(member_, id)->attempts, 1) << "claimed once, never nacked or recovered";
  processes_.clear();  // before their database goes
}

TEST_F(DistributedTest, ATaskWhoseMessageTheBrokerLostIsSentAgainAndRunsOnce) {
  env_["ATRIUM_TASK_REPUBLISH_AFTER"] = "1";
  serve();
  const auto port = last_port_;
  ASSERT_NO_FATAL_FAILURE(join(port));
  const std::string id = create(port, {{"i", 1}});
  // Relayed and confirmed (the outbox row marked sent), then lost with the queue: no worker yet.
  ASSERT_TRUE(eventually(
      [&] {
        auto unsent = database_->db->transact({.read_only = true}, [](db::Tx& tx) {
          return tx.query_one("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
        });
        return unsent && *unsent && (**unsent).integer(0) == 0;
      },
      30s));
  remove_broker_topology();
  EXPECT_EQ(store_->get(member_, id)->status, tasks::Status::kQueued);

  worker();  // declares the queue anew, empty; its maintenance finds the task stale
  ASSERT_TRUE(eventually([&] { return count(tasks::Status::kSucceeded) == 1; }, 60s)) << output();
  expect_each_finished_once(1);
  EXPECT_EQ(store_->get(member_, id)->attempts, 1);
}

// As WorkerPoolTest's test of the name on the embedded queue, here on RabbitMQ (a worker pool in
// this process, on a clock of the test's): copies of a retried task's first message, delivered
// while it waits out its back-off, are dropped rather than each deferred into one more message.
TEST_F(DistributedTest, DuplicatesOfARetriedTasksMessageDieOutAndItRunsOnceMore) {
  testing::FakeClock clock;
  const std::string org = testing::add_organization(*database_->db, "acme");
  const std::string agent = testing::add_agent(*database_->db, org, "fails-first");
  auto rabbit = broker::RabbitTaskQueue::create(rabbit_options());
  ASSERT_TRUE(rabbit) << rabbit.error().detail;
  testing::CountingQueue queue(**rabbit, /*durable=*/true);
  tasks::TaskStore store(*database_->db, clock);
  tasks::Executors executors;
  auto owned = std::make_unique<FailsFirstAttempt>();
  FailsFirstAttempt& executor = *owned;
  executors.add("fails-first", std::move(owned));
  broker::EmbeddedEventBus bus;
  tasks::TaskEvents events(&bus, nullptr);
  broker::OutboxRelay relay(*database_->db, queue, clock, {.poll_interval = 20ms});
  tasks::WorkerOptions options;
  options.workers = 2;
  options.retry_delay = 60s;
  options.poll = 50ms;
  tasks::WorkerPool pool(store, queue, executors, events, clock, options, nullptr,
                         [&relay] { relay.notify(); });
  relay.start();
  pool.start();

  const Principal member = testing::member_of(org);
  auto created = store.create(member, {agent, {{"i", 1}}, std::nullopt}, {});
  ASSERT_TRUE(created);
  const tasks::Task t = created->task;
  relay.notify();
  ASSERT_TRUE(eventually(
      [&] {
        auto now = store.get(member, t.id);
        return now && now->status == tasks::Status::kQueued && now->attempts == 1;
      },
      60s));
  ASSERT_EQ(queue.of(t.id).published, 1);
  const broker::QueueMessage first{"dup", org, tasks::queue_body(t.id, org, t.queue_generation)};
  ASSERT_TRUE(queue.publish(std::vector<broker::QueueMessage>(5, first)));
  ASSERT_TRUE(eventually([&] { return queue.of(t.id).in_flight() == 0; }, 60s));
  EXPECT_EQ(queue.of(t.id).delivered, 6);
  auto unsent = [&] {
    auto n = database_->db->transact({.read_only = true}, [&](db::Tx& tx) {
      return tx.query_one("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
    });
    return n && *n ? (**n).integer(0) : -1;
  };
  // (The relay marks a row sent after its message was published, and possibly consumed.)
  EXPECT_TRUE(eventually([&] { return unsent() == 1; }, 30s))
      << "the retry's message alone waits for the due time, not " << unsent();

  clock.advance(61s);
  relay.notify();
  ASSERT_TRUE(eventually(
      [&] { return store.get(member, t.id)->status == tasks::Status::kSucceeded; }, 60s));
  ASSERT_TRUE(eventually([&] { return queue.of(t.id).in_flight() == 0; }, 60s));
  EXPECT_EQ(store.get(member, t.id)->attempts, 2);
  EXPECT_EQ(executor.runs.load(), 2);
  EXPECT_EQ(queue.of(t.id).delivered, 7);
  EXPECT_TRUE(eventually([&] { return unsent() == 0; }, 30s));
  pool.stop();  // before the queue goes
  relay.stop();
}

TEST_F(DistributedTest, TwoReplicasAndAWorkerShareTaskEventsAndRevocations) {
  serve();
  const auto a = last_port_;
  serve();
  const auto b = last_port_;
  ASSERT_NO_FATAL_FAILURE(join(a));
  ASSERT_EQ(call(b, "GET", "/api/me").status, 200) << "a token from A works on B (shared keys)";

  // Accepted by A while no worker runs; a client of B follows it from "queued". B learns of the
  // worker's progress only through the broker's events.
  const std::string id = create(a, {{"steps", 2}});
  testing::WsClient ws(b, "/ws", {{"Authorization", "Bearer " + token_}});
  ASSERT_TRUE(ws.open()) << ws.status() << " " << ws.body();
  ws.send(json({{"action", "task-status"}, {"task_id", id}}).dump());
  auto snapshot = ws.read(10s);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(json::parse(*snapshot)["task"]["status"], "queued") << *snapshot;
  worker();
  std::string status = "queued";
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (status != "succeeded" && std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(5s);
    if (!m) continue;
    auto j = json::parse(*m);
    if (j["type"] == "task-status" && j["task"]["id"] == id) status = j["task"]["status"];
  }
  EXPECT_EQ(status, "succeeded") << output();

  auto logout = call(a, "POST", "/api/auth/logout", {{"refresh_token", refresh_token_}});
  ASSERT_EQ(logout.status, 204) << logout.body;
  // The contract: within 5 s on every replica.
  EXPECT_TRUE(eventually([&] { return call(b, "GET", "/api/me").status == 401; }, 5s)) << output();
}

}  // namespace
}  // namespace atrium
