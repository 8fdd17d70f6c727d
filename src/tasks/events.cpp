#include "tasks/events.hpp"

#include <functional>

#include "platform/log.hpp"

namespace atrium::tasks {

std::unique_lock<std::mutex> TaskEvents::order(std::string_view task_id) {
  return std::unique_lock(stripes_[std::hash<std::string_view>{}(task_id) % stripes_.size()]);
}

void TaskEvents::changed(const Task& task) {
  nlohmann::json line = {{"task_id", task.id},
                         {"tenant", task.organization_id},
                         {"agent_id", task.agent_id},
                         {"status", status_name(task.status)},
                         {"attempts", task.attempts}};
  if (task.error) line["error"] = *task.error;
  log::info("task", std::move(line));
  if (metrics_) {
    metrics_
        ->counter("atrium_task_transitions_total", "Task status transitions by the new status",
                  {{"status", std::string(status_name(task.status))}})
        .inc();
  }
  publish(task, {{"task", to_json(task)}});
}

void TaskEvents::progress(const Task& task, const Progress& progress) {
  publish(task, {{"task", to_json(task)}, {"progress", to_json(progress)}});
}

void TaskEvents::publish(const Task& task, nlohmann::json payload) {
  if (!bus_) return;
  auto r = bus_->publish({std::string(kStatusTopic), task.organization_id,
                          payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  if (!r) {
    log::warn("task event dropped", {{"task_id", task.id}, {"error", r.error().detail}});
  }
}

}  // namespace atrium::tasks
