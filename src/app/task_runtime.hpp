// The task machinery of an embedded-mode process, wired from the configuration: the in-process
// queue, the outbox relay that feeds it, the executors, the worker pool (DESIGN.md §1: a thread
// pool inside `serve`) and the tasks API's service.
#pragma once

#include "app/health.hpp"
#include "broker/embedded/embedded_task_queue.hpp"
#include "broker/event_bus.hpp"
#include "broker/outbox.hpp"
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
  TaskRuntime(const Config& config, db::Database& db, broker::EventBus& bus, const Clock& clock,
              metrics::Registry& metrics);
  ~TaskRuntime();  // stops

  // The tasks API (tasks/routes.hpp).
  void add_routes(http::Router& router);

  void start();
  // Stops the workers (running tasks go back to the queue), then the relay.
  void stop();

  ReadinessCheck readiness();

  tasks::TaskStore& store() { return store_; }
  tasks::TaskEvents& events() { return events_; }
  tasks::WorkerPool& pool() { return pool_; }
  broker::OutboxRelay& relay() { return relay_; }
  const tasks::Executors& executors() const { return executors_; }

 private:
  broker::EmbeddedTaskQueue queue_;
  tasks::TaskStore store_;
  broker::OutboxRelay relay_;
  tasks::Executors executors_;
  tasks::TaskEvents events_;
  tasks::WorkerPool pool_;
  tasks::TaskService service_;
};

}  // namespace atrium::app
