// The worker pool with the embedded queue, the outbox relay and a real database, driven by fake
// executors and a fake clock: lifecycle and events, retries and poison tasks, fairness, cancel,
// shutdown, lease recovery and restart.
#include "tasks/worker.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "broker/embedded/embedded_event_bus.hpp"
#include "broker/embedded/embedded_task_queue.hpp"
#include "broker/outbox.hpp"
#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/counting_queue.hpp"
#include "support/eventually.hpp"
#include "support/fake_clock.hpp"
#include "support/fake_http_server.hpp"
#include "support/tenants.hpp"
#include "tasks/echo_executor.hpp"
#include "tasks/openai_executor.hpp"

namespace atrium::tasks {
namespace {

using namespace std::chrono_literals;
using testing::Backend;

using testing::eventually;

// Holds every run until opened (or stopped); counts runs per task.
class GateExecutor final : public Executor {
 public:
  Outcome run(Execution& ex) override {
    std::unique_lock lock(mu_);
    ++runs_[ex.task.id];
    ++active_;
    cv_.notify_all();
    cv_.wait(lock, ex.stop, [&] { return open_; });
    --active_;
    if (ex.stop.stop_requested() && !open_) {
      ++stopped_;
      return tl::unexpected(ExecutionError{"stopped", false});
    }
    return nlohmann::json{{"ok", true}};
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int active() {
    std::lock_guard lock(mu_);
    return active_;
  }
  int stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  int runs(const std::string& id) {
    std::lock_guard lock(mu_);
    return runs_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool open_ = false;
  int active_ = 0;
  int stopped_ = 0;
  std::map<std::string, int> runs_;
};

// input.poison → a retryable failure every time; input.fail_first → on the first attempt only;
// anything else succeeds. Counts runs.
class FlakyExecutor final : public Executor {
 public:
  Outcome run(Execution& ex) override {
    ++runs;
    if (ex.task.input.value("poison", false) ||
        (ex.task.input.value("fail_first", false) && ex.task.attempts == 1))
      return tl::unexpected(ExecutionError{"upstream unavailable", true});
    return nlohmann::json{{"ok", true}};
  }
  std::atomic<int> runs{0};
};

class EventLog {
 public:
  void add(const broker::Event& e) {
    std::lock_guard lock(mu_);
    events_.push_back(nlohmann::json::parse(e.payload));
    tenants_.push_back(e.tenant);
  }
  // The events of one task: "status" or "status k/n" for progress.
  std::vector<std::string> of(const std::string& task_id) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      if (e["task"]["id"] != task_id) continue;
      std::string s = e["task"]["status"];
      if (e.contains("progress"))
        s += " " + std::to_string(e["progress"]["step"].get<int>()) + "/" +
             (e["progress"]["of"].is_null() ? "?" : std::to_string(e["progress"]["of"].get<int>()));
      out.push_back(s);
    }
    return out;
  }
  std::vector<std::string> tenants() {
    std::lock_guard lock(mu_);
    return tenants_;
  }

 private:
  std::mutex mu_;
  std::vector<nlohmann::json> events_;
  std::vector<std::string> tenants_;
};

class WorkerPoolTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
    org_a_ = testing::add_organization(**db_, "alpha");
    org_b_ = testing::add_organization(**db_, "beta");
    alice_ = testing::member_of(org_a_);
    bob_ = testing::member_of(org_b_);
    store_ = std::make_unique<TaskStore>(**db_, clock_);
    executors_.add("echo", std::make_unique<EchoExecutor>());
    executors_.add("gate", std::make_unique<GateExecutor>());
    executors_.add("flaky", std::make_unique<FlakyExecutor>());
    subscription_ = bus_.subscribe({std::string(kStatusTopic), std::nullopt},
                                   [this](const broker::Event& e) { events_log_.add(e); });
    options_.workers = 4;
    options_.retry_delay = 0ms;
    options_.busy_delay = 0ms;
    options_.tenant_max_running = 0;
    options_.poll = 20ms;
  }

  void TearDown() override {
    if (pool_) pool_->stop();
    if (relay_) relay_->stop();
    pool_.reset();
    relay_.reset();
  }

  // Starts the queue, relay and pool (a fresh "process" each call, sharing the database).
  void start(int queue_cap_per_key = 0) {
    if (pool_) pool_->stop();
    if (relay_) relay_->stop();
    pool_.reset();
    relay_.reset();
    queue_ = std::make_unique<broker::EmbeddedTaskQueue>(broker::EmbeddedTaskQueueOptions{
        .capacity = 10000, .max_in_flight_per_key = queue_cap_per_key, .delivery_limit = 10});
    counted_ = std::make_unique<testing::CountingQueue>(*queue_, durable_);
    broker::TaskQueue& queue = *counted_;
    relay_ = std::make_unique<broker::OutboxRelay>(
        **db_, queue, clock_, broker::OutboxRelayOptions{.poll_interval = 20ms});
    pool_ = std::make_unique<WorkerPool>(
        *store_, queue, executors_, events_, clock_, options_, secrets_,
        [this] { relay_->notify(); }, &metrics_, dead_letters_);
    relay_->start();
    pool_->start();
  }

  Task create(const Principal& who, const std::string& agent,
              nlohmann::json input = nlohmann::json::object()) {
    NewTask task{agent, std::move(input), std::nullopt};
    task.id = new_id();
    auto order = events_.order(task.id);  // as the API's service does
    auto c = store_->create(who, task, {});
    EXPECT_TRUE(c);
    if (!c) return {};
    events_.changed(c->task);
    order.unlock();
    if (relay_) relay_->notify();
    return c->task;
  }

  // A pool of `workers` with `prefetch` started on a durable queue (no message but the relay's),
  // and three tasks created for a new "gate" agent of organization A.
  std::vector<Task> three_gated_tasks(int workers, int prefetch) {
    options_.workers = workers;
    options_.prefetch = prefetch;
    durable_ = true;
    start();
    const std::string agent = testing::add_agent(**db_, org_a_, "gate");
    std::vector<Task> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(create(alice_, agent));
    return tasks;
  }

  // How many times the queue has delivered these tasks' messages.
  int delivered(const std::vector<Task>& tasks) {
    int n = 0;
    for (const auto& t : tasks) n += counted_->of(t.id).delivered;
    return n;
  }

  Task get(const Task& t) {
    auto got = store_->get(t.organization_id == org_a_ ? alice_ : bob_, t.id);
    EXPECT_TRUE(got);
    return got ? *got : Task{};
  }

  bool reaches(const Task& t, Status s, std::chrono::seconds timeout = 30s) {
    return eventually([&] { return get(t).status == s; }, timeout);
  }

  int count(const std::string& org, Status s) {
    auto all = store_->list(org == org_a_ ? alice_ : bob_, {.status = s, .limit = 100});
    return all ? static_cast<int>(all->size()) : -1;
  }

  // Outbox rows of the task not yet sent to the queue.
  int unsent_messages_for(const Task& t) {
    auto rows = (*db_)->transact({}, [&](db::Tx& tx) {
      return tx.query("SELECT payload FROM outbox WHERE published_at IS NULL");
    });
    EXPECT_TRUE(rows);
    int n = 0;
    if (rows)
      for (const auto& row : *rows) {
        auto ref = parse_queue_body(row.text(0));
        n += ref && ref->task_id == t.id;
      }
    return n;
  }

  GateExecutor& gate() { return static_cast<GateExecutor&>(*executors_.find("gate")); }
  FlakyExecutor& flaky() { return static_cast<FlakyExecutor&>(*executors_.find("flaky")); }

  std::unique_ptr<testing::TestDatabase> db_;
  testing::FakeClock clock_;
  std::unique_ptr<TaskStore> store_;
  Executors executors_;
  broker::EmbeddedEventBus bus_;
  EventLog events_log_;
  broker::EventBus::Subscription subscription_;
  metrics::Registry metrics_;
  TaskEvents events_{&bus_, &metrics_};
  WorkerOptions options_;
  SecretReader secrets_;
  DeadLetterSource dead_letters_;
  broker::EmbeddedTaskQueue dead_;  // stands for a broker's dead-letter queue
  bool durable_ = false;  // start() presents the queue as durable (as RabbitMQ's is): the pool
                          // does not queue the database's queued tasks again, as after a restart
  std::unique_ptr<broker::EmbeddedTaskQueue> queue_;
  std::unique_ptr<testing::CountingQueue> counted_;  // in front of queue_, for the relay and pool
  std::unique_ptr<broker::OutboxRelay> relay_;
  std::unique_ptr<WorkerPool> pool_;
  std::string org_a_, org_b_;
  Principal alice_, bob_;
};

TEST_P(WorkerPoolTest, RunsATaskThroughItsLifecycleWithEventsInOrder) {
  start();
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task t = create(alice_, echo, {{"steps", 3}, {"text", "hello"}});
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  Task done = get(t);
  EXPECT_EQ(done.output, nlohmann::json({{"echo", {{"steps", 3}, {"text", "hello"}}}}));
  EXPECT_EQ(done.attempts, 1);
  EXPECT_FALSE(done.error);
  EXPECT_TRUE(done.started_at && done.finished_at);

  const std::vector<std::string> expected{"queued",      "running",     "running 1/3",
                                          "running 2/3", "running 3/3", "succeeded"};
  ASSERT_TRUE(eventually([&] { return events_log_.of(t.id).size() >= expected.size(); }));
  EXPECT_EQ(events_log_.of(t.id), expected);
  for (const auto& tenant : events_log_.tenants()) EXPECT_EQ(tenant, org_a_);
  EXPECT_NE(metrics_.render().find("atrium_task_transitions_total{status=\"succeeded\"} 1"),
            std::string::npos);
}

TEST_P(WorkerPoolTest, AFailingTaskEndsFailedWithItsError) {
  start();
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task t = create(alice_, echo, {{"fail", true}});
  ASSERT_TRUE(reaches(t, Status::kFailed));
  Task done = get(t);
  EXPECT_FALSE(done.error.value_or("").empty());
  EXPECT_TRUE(done.output.is_null());
  EXPECT_EQ(done.attempts, 1);  // not retryable
  ASSERT_TRUE(eventually([&] { return events_log_.of(t.id).size() >= 3; }));
  EXPECT_EQ(events_log_.of(t.id), (std::vector<std::string>{"queued", "running", "failed"}));
}

TEST_P(WorkerPoolTest, AnAgentWithAnUnknownExecutorFailsItsTasks) {
  start();
  const std::string odd = testing::add_agent(**db_, org_a_, "no-such-executor");
  Task t = create(alice_, odd);
  ASSERT_TRUE(reaches(t, Status::kFailed));
  EXPECT_NE(get(t).error.value_or("").find("executor"), std::string::npos);
}

TEST_P(WorkerPoolTest, PoisonTasksFailAfterTheRetryLimitWhileOthersComplete) {
  options_.max_attempts = 3;
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "flaky");
  std::vector<Task> poison, healthy;
  for (int i = 0; i < 4; ++i) poison.push_back(create(alice_, agent, {{"poison", true}}));
  for (int i = 0; i < 20; ++i) healthy.push_back(create(alice_, agent, {{"i", i}}));
  for (const auto& t : healthy) ASSERT_TRUE(reaches(t, Status::kSucceeded));
  for (const auto& t : poison) {
    ASSERT_TRUE(reaches(t, Status::kFailed));
    Task done = get(t);
    EXPECT_EQ(done.attempts, 3);
    EXPECT_EQ(done.error, "upstream unavailable");
  }
  for (const auto& t : healthy) EXPECT_EQ(get(t).attempts, 1);
  EXPECT_EQ(flaky().runs.load(), 4 * 3 + 20);
  // A poison task went queued → running → queued (retry) … → failed.
  ASSERT_TRUE(eventually([&] { return events_log_.of(poison[0].id).size() >= 7; }));
  EXPECT_EQ(events_log_.of(poison[0].id),
            (std::vector<std::string>{"queued", "running", "queued", "running", "queued", "running",
                                      "failed"}));
}

TEST_P(WorkerPoolTest, AFloodFromOneTenantDoesNotHoldBackAnother) {
  options_.tenant_max_running = 2;
  start(/*queue_cap_per_key=*/2);
  const std::string gate_a = testing::add_agent(**db_, org_a_, "gate");
  const std::string gate_b = testing::add_agent(**db_, org_b_, "gate");
  std::vector<Task> flood;
  for (int i = 0; i < 30; ++i) flood.push_back(create(alice_, gate_a));
  ASSERT_TRUE(eventually([&] { return count(org_a_, Status::kRunning) == 2; }));

  Task b = create(bob_, gate_b);
  // B runs while every one of A's tasks but the two running is still queued: it did not wait
  // for A's backlog, and A never held more than its two workers.
  ASSERT_TRUE(reaches(b, Status::kRunning));
  EXPECT_EQ(count(org_a_, Status::kRunning), 2);
  EXPECT_EQ(count(org_a_, Status::kQueued), 28);
  EXPECT_TRUE(eventually([&] { return gate().active() == 3; }));

  gate().open();
  for (const auto& t : flood) ASSERT_TRUE(reaches(t, Status::kSucceeded));
  ASSERT_TRUE(reaches(b, Status::kSucceeded));
}

TEST_P(WorkerPoolTest, TheTenantCapHoldsEvenWhenTheQueueDoesNotEnforceIt) {
  options_.tenant_max_running = 1;
  options_.busy_delay = 0ms;
  start(/*queue_cap_per_key=*/0);
  const std::string gate_a = testing::add_agent(**db_, org_a_, "gate");
  std::vector<Task> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(create(alice_, gate_a));
  ASSERT_TRUE(eventually([&] { return count(org_a_, Status::kRunning) == 1; }));
  // Deferred messages keep coming back; none of them may start a second run.
  const auto sent = relay_->sent();
  ASSERT_TRUE(eventually([&] {
    EXPECT_LE(count(org_a_, Status::kRunning), 1);
    EXPECT_LE(gate().active(), 1);
    return relay_->sent() >= sent + 20;
  }));
  gate().open();
  for (const auto& t : tasks) ASSERT_TRUE(reaches(t, Status::kSucceeded));
}

TEST_P(WorkerPoolTest, CancellingARunningTaskStopsItsExecutor) {
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  ASSERT_TRUE(reaches(t, Status::kRunning));
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  {
    auto order = events_.order(t.id);  // as the API's service does
    auto cancelled = store_->cancel(alice_, t.id);
    ASSERT_TRUE(cancelled);
    pool_->cancelled(t.id);
    events_.changed(*cancelled);
  }
  ASSERT_TRUE(eventually([&] { return gate().stopped() == 1; }));
  ASSERT_TRUE(eventually([&] { return pool_->running() == 0; }));
  Task after = get(t);
  EXPECT_EQ(after.status, Status::kCancelled);
  EXPECT_TRUE(after.output.is_null());
  ASSERT_TRUE(eventually([&] { return events_log_.of(t.id).size() >= 3; }));
  EXPECT_EQ(events_log_.of(t.id), (std::vector<std::string>{"queued", "running", "cancelled"}));
}

TEST_P(WorkerPoolTest, ACancelSeenOnlyInTheStoreStopsTheRunAtTheNextRenewal) {
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  ASSERT_TRUE(store_->cancel(alice_, t.id));  // e.g. by another replica
  pool_->maintain();
  ASSERT_TRUE(eventually([&] { return gate().stopped() == 1; }));
  EXPECT_EQ(get(t).status, Status::kCancelled);
}

TEST_P(WorkerPoolTest, StoppingGivesRunningTasksBackToTheQueue) {
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  pool_->stop();
  Task back = get(t);
  EXPECT_EQ(back.status, Status::kQueued);
  EXPECT_EQ(back.attempts, 0);

  gate().open();
  start();
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  EXPECT_EQ(get(t).attempts, 1);
}

TEST_P(WorkerPoolTest, ATaskOfAWorkerThatDiedIsRecoveredAfterItsLease) {
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task t = create(alice_, echo, {{"n", 1}});
  // A worker that claimed the task and died: its lease is all that is left.
  auto claimed = store_->claim({t.id, t.organization_id}, t.queue_generation,
                               clock_.now() + options_.lease, 0, 0ms);
  ASSERT_TRUE(claimed && std::holds_alternative<Claimed>(*claimed));

  start();
  pool_->maintain();
  EXPECT_EQ(get(t).status, Status::kRunning);  // the lease still runs
  clock_.advance(options_.lease + 1s);
  pool_->maintain();
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  Task done = get(t);
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(done.output, nlohmann::json({{"echo", {{"n", 1}}}}));
}

TEST_P(WorkerPoolTest, ALongRunKeepsItsLeaseByRenewingIt) {
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  for (int i = 0; i < 4; ++i) {
    clock_.advance(options_.lease * 2 / 3);
    pool_->maintain();
  }
  Task still = get(t);
  EXPECT_EQ(still.status, Status::kRunning);
  EXPECT_EQ(still.attempts, 1);
  gate().open();
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  EXPECT_EQ(get(t).attempts, 1);
  EXPECT_EQ(gate().runs(t.id), 1);
}

TEST_P(WorkerPoolTest, ARunPastTheTimeoutFails) {
  options_.timeout = 1ms;
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  ASSERT_TRUE(eventually([&] {
    pool_->maintain();
    return get(t).status == Status::kFailed;
  }));
  EXPECT_NE(get(t).error.value_or("").find("longer than"), std::string::npos);
}

TEST_P(WorkerPoolTest, AfterARestartQueuedTasksRunEvenThoughTheirMessagesWereLost) {
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  std::vector<Task> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(create(alice_, echo, {{"i", i}}));
  {
    // A previous process relayed the messages into its memory, then died.
    broker::EmbeddedTaskQueue lost;
    broker::OutboxRelay relay(**db_, lost, clock_, {});
    ASSERT_EQ(relay.relay_due().value_or(0), 5u);
  }
  start();
  for (const auto& t : tasks) ASSERT_TRUE(reaches(t, Status::kSucceeded));
}

TEST_P(WorkerPoolTest, ATaskWhoseMessageWasDeadLetteredFailsAuditedAndOthersAreLeftAlone) {
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task stuck = create(alice_, echo);
  {
    // Its message reached a queue that later gave up on it: none is left that would run it.
    broker::EmbeddedTaskQueue gave_up;
    broker::OutboxRelay relay(**db_, gave_up, clock_, {});
    ASSERT_EQ(relay.relay_due().value_or(0), 1u);
  }
  dead_letters_ = [this] { return dead_.consume({}); };
  durable_ = true;  // as RabbitMQ: nothing queues the stuck task again at start
  start();
  Task ran = create(alice_, echo);
  ASSERT_TRUE(reaches(ran, Status::kSucceeded));
  ASSERT_TRUE(dead_.publish(
      std::vector<broker::QueueMessage>{{"d1", org_a_, queue_body(stuck.id, org_a_, 0)},
                                        {"d2", org_a_, queue_body(ran.id, org_a_, 0)},
                                        {"d3", org_a_, "not a task message"}}));

  ASSERT_TRUE(reaches(stuck, Status::kFailed));
  EXPECT_EQ(get(stuck).error, std::string(kDeadLetteredError));
  EXPECT_TRUE(get(stuck).finished_at);
  ASSERT_TRUE(eventually([&] { return dead_.depth() == 0u; })) << "every dead letter settled";
  EXPECT_EQ(get(ran).status, Status::kSucceeded) << "a task that ran is left as it is";
  ASSERT_TRUE(eventually([&] { return events_log_.of(stuck.id).size() >= 2; }));
  EXPECT_EQ(events_log_.of(stuck.id), (std::vector<std::string>{"queued", "failed"}));

  auto audit = (*db_)->transact({.tenant = org_a_}, [&](db::Tx& tx) {
    return tx.query("SELECT action, actor_type, target_type FROM audit_log WHERE target_id = $1",
                    {stuck.id});
  });
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].text(0), "task.dead_letter");
  EXPECT_EQ((*audit)[0].text(1), "system");
  EXPECT_EQ((*audit)[0].text(2), "task");
}

TEST_P(WorkerPoolTest, AMessageTheEmbeddedQueueDropsAtItsDeliveryLimitFailsItsTaskAudited) {
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task stuck = create(alice_, echo);
  broker::EmbeddedTaskQueue queue(
      {.capacity = 100, .max_in_flight_per_key = 0, .delivery_limit = 2});
  {
    broker::OutboxRelay relay(**db_, queue, clock_, {});
    ASSERT_EQ(relay.relay_due().value_or(0), 1u);
    // Consumers that never finish it (as workers killed by it would): back until the limit.
    auto c = queue.consume({.prefetch = 1});
    ASSERT_TRUE(c);
    for (int delivery = 1; delivery <= 2; ++delivery) {
      auto d = (*c)->next(1s);
      ASSERT_TRUE(d && *d);
      ASSERT_TRUE((*c)->nack((*d)->tag, /*requeue=*/true));
    }
  }
  ASSERT_EQ(queue.depth(), 0u);
  EXPECT_EQ(get(stuck).status, Status::kQueued) << "no message is left that would run it";

  dead_letters_ = [&queue] { return queue.consume_dead_letters({}); };
  durable_ = true;  // nothing queues it again at start: only the dead letter settles it
  start();
  ASSERT_TRUE(reaches(stuck, Status::kFailed));
  EXPECT_EQ(get(stuck).error, std::string(kDeadLetteredError));
  EXPECT_EQ(get(stuck).attempts, 0);
  ASSERT_TRUE(eventually([&] { return queue.dead_letters() == 0u; }));
  auto audit = (*db_)->transact({.tenant = org_a_}, [&](db::Tx& tx) {
    return tx.query("SELECT action FROM audit_log WHERE target_id = $1", {stuck.id});
  });
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].text(0), "task.dead_letter");
  pool_->stop();  // before the queue its dead-letter consumer reads goes
}

TEST_P(WorkerPoolTest, AQueuedTaskWhoseMessageTheBrokerLostRunsOnceAfterTheThreshold) {
  const std::string echo = testing::add_agent(**db_, org_a_, "echo");
  Task lost = create(alice_, echo);
  {
    // Its message was confirmed (the outbox row marked sent), then the broker lost it: a purged
    // queue, a broker that lost its data.
    broker::EmbeddedTaskQueue purged;
    broker::OutboxRelay relay(**db_, purged, clock_, {});
    ASSERT_EQ(relay.relay_due().value_or(0), 1u);
  }
  durable_ = true;  // as RabbitMQ: nothing queues it again at start
  options_.republish_after = 60s;
  start();
  Task fresh = create(alice_, echo);
  ASSERT_TRUE(reaches(fresh, Status::kSucceeded));
  pool_->maintain();
  EXPECT_EQ(get(lost).status, Status::kQueued) << "queued for less than the threshold";

  clock_.advance(61s);
  pool_->maintain();
  ASSERT_TRUE(reaches(lost, Status::kSucceeded));
  EXPECT_EQ(get(lost).attempts, 1);
  EXPECT_EQ(get(fresh).attempts, 1);
}

TEST(WorkerHoldPause, DoublesFromAQuarterSecondUpToItsCap) {
  const WorkerOptions options_;
  std::vector<std::int64_t> pauses;
  for (int failures = 1; failures <= 8; ++failures)
    pauses.push_back(hold_pause(options_, failures).count());
  EXPECT_EQ(pauses, (std::vector<std::int64_t>{250, 500, 1000, 2000, 4000, 5000, 5000, 5000}));
}

TEST_P(WorkerPoolTest, DuplicateDeliveriesRunATaskOnce) {
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "gate");
  Task t = create(alice_, agent);
  std::vector<broker::QueueMessage> copies(10, {"dup", org_a_, queue_body(t.id, org_a_, 0)});
  ASSERT_TRUE(queue_->publish(copies));
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  gate().open();
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  ASSERT_TRUE(eventually([&] { return queue_->depth() == 0u; }));
  EXPECT_EQ(gate().runs(t.id), 1);
}

// The pool's one consumer may hold more deliveries than it has workers; each worker runs one at a
// time, and the next delivery goes to whichever worker is free.
TEST_P(WorkerPoolTest, EachWorkerRunsOneDeliveryAtATimeAndAFreeOneTakesTheNext) {
  std::vector<Task> tasks = three_gated_tasks(2, 4);
  ASSERT_TRUE(eventually([&] { return gate().active() == 2 && delivered(tasks) == 3; }));
  EXPECT_EQ(count(org_a_, Status::kRunning), 2) << "the third waits for a worker";
  EXPECT_EQ(gate().active(), 2);
  gate().open();
  for (const auto& t : tasks) ASSERT_TRUE(reaches(t, Status::kSucceeded));
  for (const auto& t : tasks) {
    EXPECT_EQ(gate().runs(t.id), 1);
    EXPECT_TRUE(eventually([&] { return counted_->of(t.id).in_flight() == 0; })) << "not acked";
  }
}

// On shutdown, deliveries no worker has taken yet go back to the queue unrun, and the stop does
// not wait for them.
TEST_P(WorkerPoolTest, StoppingReturnsDeliveriesNoWorkerTookWithoutRunningThem) {
  std::vector<Task> tasks = three_gated_tasks(1, 3);
  ASSERT_TRUE(eventually([&] { return gate().active() == 1 && delivered(tasks) == 3; }));
  pool_->stop();
  int ran = 0;
  for (const auto& t : tasks) {
    EXPECT_EQ(get(t).status, Status::kQueued);
    ran += gate().runs(t.id);
  }
  EXPECT_EQ(ran, 1) << "a delivery waiting for the busy worker was run at shutdown";
  EXPECT_TRUE(eventually([&] { return queue_->depth() >= 2u; })) << "not given back";

  gate().open();
  durable_ = false;  // a new embedded queue: the pool queues what the database shows queued
  start();
  for (const auto& t : tasks) ASSERT_TRUE(reaches(t, Status::kSucceeded));
  for (const auto& t : tasks) EXPECT_EQ(get(t).attempts, 1);
}

// Copies of a retried task's first message (a relay that sent its row twice, a broker that
// redelivered it) arrive while the task waits out its back-off: each is dropped as stale, rather
// than deferred into one more message due with the retry's, so one message is left to run it.
TEST_P(WorkerPoolTest, DuplicatesOfARetriedTasksMessageDieOutAndItRunsOnceMore) {
  options_.retry_delay = 60s;
  durable_ = true;  // no message but those counted here
  start();
  const std::string agent = testing::add_agent(**db_, org_a_, "flaky");
  Task t = create(alice_, agent, {{"fail_first", true}});
  ASSERT_TRUE(eventually([&] {
    Task now = get(t);
    return now.status == Status::kQueued && now.attempts == 1;
  }));
  ASSERT_EQ(counted_->of(t.id).published, 1);
  const broker::QueueMessage first{"dup", org_a_, queue_body(t.id, org_a_, t.queue_generation)};
  ASSERT_TRUE(counted_->publish(std::vector<broker::QueueMessage>(5, first)));
  ASSERT_TRUE(eventually([&] { return counted_->of(t.id).in_flight() == 0; }));
  EXPECT_EQ(counted_->of(t.id).delivered, 6);
  // (The relay marks a row sent after its message was published, and possibly consumed.)
  EXPECT_TRUE(eventually([&] { return unsent_messages_for(t) == 1; }))
      << "the retry's message alone waits for the due time, not " << unsent_messages_for(t);

  clock_.advance(61s);
  relay_->notify();
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  ASSERT_TRUE(eventually([&] { return counted_->of(t.id).in_flight() == 0; }));
  EXPECT_EQ(get(t).attempts, 2);
  EXPECT_EQ(flaky().runs.load(), 2);
  EXPECT_EQ(counted_->of(t.id).delivered, 7);
  EXPECT_TRUE(eventually([&] { return unsent_messages_for(t) == 0; }));
}

// The same with an organization at its running cap: its queued task's copies are deferred while
// it waits its turn. Only the current generation's message goes round; the copies are dropped.
TEST_P(WorkerPoolTest, DuplicatesOfADeferredTasksMessageDieOutWhileItWaitsItsTurn) {
  options_.tenant_max_running = 1;
  durable_ = true;
  start();
  const std::string gate_a = testing::add_agent(**db_, org_a_, "gate");
  Task running = create(alice_, gate_a);
  ASSERT_TRUE(eventually([&] { return gate().active() == 1; }));
  Task waiting = create(alice_, gate_a);
  const broker::QueueMessage first{"dup", org_a_, queue_body(waiting.id, org_a_, 0)};
  ASSERT_TRUE(counted_->publish(std::vector<broker::QueueMessage>(5, first)));
  // Each delivery of a current message defers it into the next: wait for many rounds.
  ASSERT_TRUE(eventually([&] { return counted_->of(waiting.id).delivered >= 50; }));
  pool_->stop();  // returns what consumers held
  relay_->stop();
  ASSERT_TRUE(relay_->relay_due());
  EXPECT_EQ(counted_->of(waiting.id).in_flight(), 1) << "one message left for the waiting task";

  gate().open();
  durable_ = false;  // a new embedded queue: the pool queues what the database shows queued
  start();
  ASSERT_TRUE(reaches(running, Status::kSucceeded));
  ASSERT_TRUE(reaches(waiting, Status::kSucceeded));
  EXPECT_EQ(get(waiting).attempts, 1);  // runs cut short by the stop gave their attempt back
}

TEST_P(WorkerPoolTest, AnOpenAiTaskStreamsItsAnswerAsProgress) {
  testing::FakeHttpServer server([](const testing::FakeRequest& req, testing::FakeExchange& x) {
    if (req.headers.at("authorization") != "Bearer sk-alpha") {
      x.respond(401, "application/json", R"({"error":{"message":"wrong key"}})");
      return;
    }
    x.start_events();
    for (const char* piece : {"Bon", "jour"})
      x.event(nlohmann::json{{"choices", {{{"delta", {{"content", piece}}}}}}}.dump());
    x.event(nlohmann::json{
        {"choices", {{{"delta", nlohmann::json::object()}, {"finish_reason", "stop"}}}}}
                .dump());
    x.event("[DONE]");
  });
  OpenAiOptions o;
  o.allow_private_networks = true;
  executors_.add("openai", std::make_unique<OpenAiExecutor>(o));
  secrets_ = [this, &server](const std::string& org,
                             std::string_view name) -> Result<std::optional<std::string>> {
    if (org != org_a_) return std::optional<std::string>();
    if (name == "llm_api_key") return std::optional<std::string>("sk-alpha");
    if (name == "llm_base_url") return std::optional<std::string>(server.url() + "/v1");
    return std::optional<std::string>();
  };
  start();
  const std::string config = nlohmann::json{{"base_url", server.url() + "/v1"}}.dump();
  const std::string mine = testing::add_agent(**db_, org_a_, "openai", config, "gpt-x", "Be kind.");
  const std::string theirs = testing::add_agent(**db_, org_b_, "openai", config, "gpt-x");
  Task t = create(alice_, mine, "Say hello in French");
  Task keyless = create(bob_, theirs, "Hi");
  ASSERT_TRUE(reaches(t, Status::kSucceeded));
  EXPECT_EQ(get(t).output["content"], "Bonjour");
  ASSERT_TRUE(eventually([&] { return events_log_.of(t.id).size() >= 5; }));
  EXPECT_EQ(events_log_.of(t.id), (std::vector<std::string>{"queued", "running", "running 1/?",
                                                            "running 2/?", "succeeded"}));
  ASSERT_TRUE(reaches(keyless, Status::kFailed));
  EXPECT_NE(get(keyless).error.value_or("").find("llm_api_key"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);  // the keyless task never called out
}

TEST(RetryBackoff, DoublesUpToTheCapWithBoundedJitter) {
  WorkerOptions o;
  o.retry_delay = 1000ms;
  o.max_retry_delay = 10000ms;
  EXPECT_EQ(retry_backoff(o, 1, 0.0), 1000ms);
  EXPECT_EQ(retry_backoff(o, 2, 0.0), 2000ms);
  EXPECT_EQ(retry_backoff(o, 3, 0.0), 4000ms);
  EXPECT_EQ(retry_backoff(o, 5, 0.0), 10000ms);
  EXPECT_EQ(retry_backoff(o, 60, 0.0), 10000ms);
  EXPECT_EQ(retry_backoff(o, 2, 1.0), 1600ms);
  EXPECT_GE(retry_backoff(o, 2, 0.5), 1600ms);
  EXPECT_LE(retry_backoff(o, 2, 0.5), 2000ms);
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerPoolTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::tasks
