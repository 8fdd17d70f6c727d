// TaskRuntime as `atrium serve` wires it in embedded mode: the in-process queue's dead letters
// reach the worker pool, which fails their tasks (audited) as it does RabbitMQ's.
#include "app/task_runtime.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "broker/embedded/embedded_event_bus.hpp"
#include "support/backends.hpp"
#include "support/eventually.hpp"
#include "support/tenants.hpp"

namespace atrium::app {
namespace {

using namespace std::chrono_literals;
using testing::Backend;

using testing::eventually;

class TaskRuntimeTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    database_ = GetParam().create_migrated();
    org_ = testing::add_organization(*database_->db, "acme");
    agent_ = testing::add_agent(*database_->db, org_, "echo");
    member_ = testing::member_of(org_);
  }

  tasks::Task create(TaskRuntime& runtime, nlohmann::json input) {
    auto c = runtime.store().create(member_, {agent_, std::move(input), std::nullopt}, {});
    EXPECT_TRUE(c);
    runtime.relay().notify();
    return c ? c->task : tasks::Task{};
  }

  tasks::Status status(TaskRuntime& runtime, const tasks::Task& t) {
    auto got = runtime.store().get(member_, t.id);
    EXPECT_TRUE(got);
    return got ? got->status : tasks::Status::kQueued;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::string org_, agent_;
  Principal member_;
  broker::EmbeddedEventBus bus_;
  metrics::Registry metrics_;
  SystemClock clock_;
};

TEST_P(TaskRuntimeTest, AMessageTheEmbeddedQueueRejectsIsDeadLetteredAndItsTaskFailsAudited) {
  Config config;
  config.workers = 1;
  config.tenant_max_running = 2;
  TaskRuntime runtime(config, *database_->app, bus_, clock_, metrics_);
  runtime.start();
  // The one worker busy with a long task: the next message is this test's to take.
  tasks::Task busy = create(runtime, {{"steps", 20}, {"step_delay_ms", 10000}});
  ASSERT_TRUE(eventually([&] { return status(runtime, busy) == tasks::Status::kRunning; }));
  tasks::Task rejected = create(runtime, {{"n", 1}});
  auto consumer = runtime.queue().consume({.prefetch = 1});
  ASSERT_TRUE(consumer);
  // (A copy of the busy task's message, from the requeue at start, may come first: it is of no
  // use while the task runs.)
  std::optional<broker::Delivery> delivery;
  ASSERT_TRUE(eventually([&] {
    auto d = (*consumer)->next(50ms);
    if (!d || !*d) return false;
    if ((*d)->message.body.find(rejected.id) != std::string::npos) {
      delivery = **d;
      return true;
    }
    EXPECT_TRUE((*consumer)->ack((*d)->tag));
    return false;
  }));
  ASSERT_TRUE((*consumer)->nack(delivery->tag, /*requeue=*/false));

  ASSERT_TRUE(eventually([&] { return status(runtime, rejected) == tasks::Status::kFailed; }));
  auto failed = runtime.store().get(member_, rejected.id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error, std::string(tasks::kDeadLetteredError));
  EXPECT_EQ(failed->attempts, 0);
  auto audit = database_->db->transact({.tenant = org_}, [&](db::Tx& tx) {
    return tx.query("SELECT action, actor_type FROM audit_log WHERE target_id = $1", {rejected.id});
  });
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].text(0), "task.dead_letter");
  EXPECT_EQ((*audit)[0].text(1), "system");
  EXPECT_EQ(status(runtime, busy), tasks::Status::kRunning) << "the other task is left alone";
  consumer->reset();
  runtime.stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskRuntimeTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::app
