// The tasks API's rules above the store: input checked by the agent's executor, events for the
// creation and the cancel (ordered with the workers' own, see events.hpp), the relay woken for a
// new task, and a running task's executor stopped at once when it runs in this process.
// Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tasks/events.hpp"
#include "tasks/executor.hpp"
#include "tasks/store.hpp"

namespace atrium::tasks {

class TaskService {
 public:
  // `enqueued` runs after a task was queued (wakes the outbox relay); `cancelled` after a task was
  // cancelled (stops its executor if it runs here). Either may be null.
  TaskService(TaskStore& store, TaskEvents& events, const Executors& executors, CreateLimits limits,
              std::function<void()> enqueued,
              std::function<void(const std::string& task_id)> cancelled);

  // The executor of the caller's agent; kNotFound for a missing agent or another tenant's.
  Result<std::string> agent_executor(const Principal& caller, const std::string& agent_id);

  // Creates the task (see TaskStore::create), its input checked by the agent's executor
  // (kInvalidRequest with field errors). `audit` runs in the creating transaction, not for a
  // replayed idempotency key.
  Result<Created> create(const Principal& caller, NewTask task, const AlsoInTx& audit);

  Result<Task> get(const Principal& caller, const std::string& id);
  Result<std::vector<Task>> list(const Principal& caller, const ListQuery& query);
  // See TaskStore::cancel; `audit` runs in the cancelling transaction.
  Result<Task> cancel(const Principal& caller, const std::string& id, const AlsoInTx& audit);

 private:
  TaskStore& store_;
  TaskEvents& events_;
  const Executors& executors_;
  const CreateLimits limits_;
  std::function<void()> enqueued_;
  std::function<void(const std::string&)> cancelled_;
};

}  // namespace atrium::tasks
