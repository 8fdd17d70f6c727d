// Task status events: every transition and every progress step of a task is announced on the
// EventBus (topic "task.status", tenant = the organization id), where the realtime hub picks it
// up for WebSocket subscribers, and logged as one JSON line (DESIGN.md §10).
//
// Payload: {"task": <API Task object>} for a transition, plus "progress": {"step": k, "of": n}
// for a progress step — the WebSocket message is this payload with "type": "task-status".
// Delivery is at most once (events say that something changed; the store has the truth).
//
// Order: a task changes hands (API → worker → another worker after a retry), so two threads may
// each commit a transition and then publish it. Every transition is therefore committed and
// published while holding the task's order() lock: in this process, a task's events go out in
// the order of its transitions. Across processes the bus gives no such promise; subscribers there
// compare `attempts` and status, or read the store.
//
// Thread-safe.
#pragma once

#include <array>
#include <mutex>
#include <string_view>

#include "broker/event_bus.hpp"
#include "platform/metrics.hpp"
#include "tasks/task.hpp"

namespace atrium::tasks {

inline constexpr std::string_view kStatusTopic = "task.status";

class TaskEvents {
 public:
  // `bus` and `metrics` may be null (nothing published / counted).
  TaskEvents(broker::EventBus* bus, metrics::Registry* metrics) : bus_(bus), metrics_(metrics) {}

  // Held around a transition's commit and its changed() (see Order above). Locks are striped:
  // unrelated tasks may share one, so never hold two, and never wait for a task while holding one.
  [[nodiscard]] std::unique_lock<std::mutex> order(std::string_view task_id);

  // The task has just moved to its current status.
  void changed(const Task& task);
  void progress(const Task& task, const Progress& progress);

 private:
  // Sends `payload` (JSON text) on the bus, which is not null.
  void publish(const Task& task, std::string payload);

  broker::EventBus* bus_;
  metrics::Registry* metrics_;
  std::array<std::mutex, 64> stripes_;
};

}  // namespace atrium::tasks
