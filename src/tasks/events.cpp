#include "tasks/events.hpp"

#include <functional>

#include "platform/log.hpp"

namespace atrium::tasks {

std::unique_lock<std::mutex> TaskEvents::order(std::string_view task_id) {
  return std::unique_lock(stripes_[std::hash<std::string_view>{}(task_id) % stripes_.size()]);
}

void TaskEvents::changed(const Task& task) {
  // On every transition of every task (an accepted task is one): written as text, field by
  // field, not through a nlohmann tree each.
  {
    log::Line line(log::Level::kInfo, "task");
    line.field("task_id", task.id)
        .field("tenant", task.organization_id)
        .field("agent_id", task.agent_id)
        .field("status", status_name(task.status))
        .field("attempts", task.attempts);
    if (task.error) line.field("error", *task.error);
  }
  if (metrics_) {
    metrics_
        ->counter("atrium_task_transitions_total", "Task status transitions by the new status",
                  {{"status", std::string(status_name(task.status))}})
        .inc();
  }
  if (!bus_) return;
  http::JsonText payload;
  payload.begin_object();
  payload.key("task");
  write_json(payload, task);
  payload.end_object();
  publish(task, payload.take());
}

void TaskEvents::progress(const Task& task, const Progress& progress) {
  if (!bus_) return;
  publish(task, nlohmann::json{{"task", to_json(task)}, {"progress", to_json(progress)}}.dump(
                    -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void TaskEvents::publish(const Task& task, std::string payload) {
  auto r = bus_->publish({std::string(kStatusTopic), task.organization_id, std::move(payload)});
  if (!r) {
    log::warn("task event dropped", {{"task_id", task.id}, {"error", r.error().detail}});
  }
}

}  // namespace atrium::tasks
