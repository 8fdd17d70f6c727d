// Executors run a task's work for an agent: `echo` (built in, deterministic) and `openai` (an
// OpenAI-compatible chat-completions endpoint). The worker gives each run an Execution and writes
// the outcome; executors know nothing of queues, leases or the database.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "platform/error.hpp"
#include "tasks/task.hpp"

namespace atrium::tasks {

struct Execution {
  const Task& task;
  const Agent& agent;
  // Set when the run must end early (the task was cancelled, the worker is stopping): return
  // promptly; the outcome is then not recorded as the task's result.
  std::stop_token stop;
  // Reports progress; cheap, may be called often.
  std::function<void(const Progress&)> report;
  // A secret of the task's organization by name (e.g. "llm_api_key"); nullopt when not set.
  std::function<Result<std::optional<std::string>>(std::string_view name)> secret;
};

struct ExecutionError {
  std::string message;     // shown to the task's owner as the task's error: nothing internal
  bool retryable = false;  // a transient failure worth another attempt (timeouts, 429, 5xx)
};

using Outcome = tl::expected<nlohmann::json, ExecutionError>;

class Executor {
 public:
  virtual ~Executor() = default;
  // Checks a task's input when it is created (400 with field errors); default: anything goes.
  virtual Result<void> validate(const nlohmann::json& input) const;
  // Checks an agent's `config` object when the agent is created or changed: one error per
  // offending setting, named "config.<setting>". Default: no settings, so any key is refused.
  virtual std::vector<FieldError> validate_config(const nlohmann::json& config) const;
  // Runs the task; called on a worker thread, concurrently for different tasks.
  virtual Outcome run(Execution& execution) = 0;
};

// Executors by the name agents use in `executor`. Built at start-up, then read-only.
class Executors {
 public:
  void add(std::string name, std::unique_ptr<Executor> executor);
  Executor* find(std::string_view name) const;
  // Checks `input` with every executor's validate(): the first refusal, or success when any
  // agent's executor (a known one, or one this server does not know) would accept it.
  Result<void> validate_for_all(const nlohmann::json& input) const;
  // Every name, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::unique_ptr<Executor>, std::less<>> by_name_;
};

}  // namespace atrium::tasks
