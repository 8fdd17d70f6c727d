#include "tasks/service.hpp"

#include "platform/ids.hpp"

namespace atrium::tasks {

TaskService::TaskService(TaskStore& store, TaskEvents& events, const Executors& executors,
                         CreateLimits limits, std::function<void()> enqueued,
                         std::function<void(const std::string&)> cancelled)
    : store_(store),
      events_(events),
      executors_(executors),
      limits_(limits),
      enqueued_(std::move(enqueued)),
      cancelled_(std::move(cancelled)) {}

Result<std::string> TaskService::agent_executor(const Principal& caller,
                                                const std::string& agent_id) {
  return store_.agent_executor(caller, agent_id);
}

Result<Created> TaskService::create(const Principal& caller, NewTask task, const AlsoInTx& audit) {
  // An agent whose executor this server does not know is accepted here; its tasks fail with a
  // message when they run (agents are checked when they are written).
  const CheckInput check = [this](std::optional<std::string_view> executor,
                                  const nlohmann::json& input) -> Result<void> {
    if (!executor) return executors_.validate_for_all(input);
    if (const Executor* e = executors_.find(*executor)) return e->validate(input);
    return {};
  };
  task.id = new_id();
  auto order = events_.order(task.id);
  auto created = store_.create(caller, task, limits_, check, audit);
  if (!created) return created;
  if (!created->replayed) {
    events_.changed(created->task);
    order.unlock();
    if (enqueued_) enqueued_();
  }
  return created;
}

Result<Task> TaskService::get(const Principal& caller, const std::string& id) {
  return store_.get(caller, id);
}

Result<std::vector<Task>> TaskService::list(const Principal& caller, const ListQuery& query) {
  return store_.list(caller, query);
}

Result<Task> TaskService::cancel(const Principal& caller, const std::string& id,
                                 const AlsoInTx& audit) {
  auto order = events_.order(id);
  auto cancelled = store_.cancel(caller, id, audit);
  if (!cancelled) return cancelled;
  if (cancelled_) cancelled_(cancelled->id);
  events_.changed(*cancelled);
  return cancelled;
}

}  // namespace atrium::tasks
