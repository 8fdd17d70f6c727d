// The task machinery of a process, wired from the configuration: the outbox relay that feeds the
// task queue, the executors, the worker pool (DESIGN.md §1: a thread pool inside `serve` in
// embedded mode; in distributed mode only `atrium worker` runs tasks, and `serve` relays) and the
// tasks API's service.
#pragma once

#include "app/health.hpp"
#include "broker/embedded/embedded_task_queue.hpp"
#include "broker/event_bus.hpp"
#include "broker/outbox.hpp"
#include "broker/task_queue.hpp"
#include "db/database.hpp"
#include "http/router.hpp"
#include "platform/clock.hpp"
#include "platform/config.hpp"
#include "platform/metrics.hpp"
#include "tasks/events.hpp"
#include "tasks/executor.hpp"
#include "tasks/service.hpp"
#include "tasks/store.hpp"
#include "tasks/worker.hpp"

namespace atrium::app {

class TaskRuntime {
 public:
  // `bus` and `queue` outlive this. Without a queue, an in-process one (embedded mode), whose
  // dead letters the pool settles; with one, the pool settles `dead_letters` (may be null).
  TaskRuntime(const Config& config, db::Database& db, broker::EventBus& bus, const Clock& clock,
              metrics::Registry& metrics, broker::TaskQueue* queue = nullptr,
              tasks::DeadLetterSource dead_letters = nullptr);
  ~TaskRuntime();  // stops

  // The tasks API (tasks/routes.hpp).
  void add_routes(http::Router& router);

  // Starts the outbox relay and, with `workers`, the worker pool (a distributed `serve` only
  // relays: its tasks run in `atrium worker` processes).
  void start(bool workers = true);
  // Stops the workers (running tasks go back to the queue), then the relay.
  void stop();

  // /readyz's "queue": whether the task queue takes messages (never waits on the network).
  ReadinessCheck readiness();

  // The task queue: the one given, or the in-process one.
  broker::TaskQueue& queue() { return queue_; }
  tasks::TaskStore& store() { return store_; }
  tasks::TaskEvents& events() { return events_; }
  tasks::WorkerPool& pool() { return pool_; }
  broker::OutboxRelay& relay() { return relay_; }
  const tasks::Executors& executors() const { return executors_; }

 private:
  std::unique_ptr<broker::EmbeddedTaskQueue> embedded_;  // when no queue was given
  broker::TaskQueue& queue_;
  bool workers_ = false;
  tasks::TaskStore store_;
  broker::OutboxRelay relay_;
  tasks::Executors executors_;
  tasks::TaskEvents events_;
  tasks::WorkerPool pool_;
  tasks::TaskService service_;
};

}  // namespace atrium::app
