// The EventBus and TaskQueue named by the configuration (ATRIUM_BROKER_URL, DESIGN.md §1):
// in-process ones for "embedded", RabbitMQ's for amqp://… (distributed mode: every replica and
// worker shares the queue and hears every other's events).
#pragma once

#include <memory>
#include <vector>

#include "app/health.hpp"
#include "broker/event_bus.hpp"
#include "broker/task_queue.hpp"
#include "platform/config.hpp"
#include "platform/metrics.hpp"
#include "tasks/worker.hpp"

namespace atrium::app {

struct Brokers {
  std::unique_ptr<broker::EventBus> bus;
  // RabbitMQ's (distributed mode); null in embedded mode, where TaskRuntime keeps its own.
  std::unique_ptr<broker::TaskQueue> queue;
  bool distributed = false;  // RabbitMQ: task workers run in `atrium worker` processes
  // What /readyz checks besides the database and the task queue: in distributed mode "events"
  // (the event bus is connected). Non-blocking.
  std::vector<ReadinessCheck> readiness;
  // Distributed: the dead-letter queue's consumers, for the workers to settle those tasks.
  tasks::DeadLetterSource dead_letters;
};

// Code::kInvalidRequest for a broker URL that cannot be used. Never waits for the broker: a
// RabbitMQ that is down at start is connected to once it is up.
Result<Brokers> open_brokers(const Config& config, metrics::Registry& metrics);

}  // namespace atrium::app
