// A task: one run of an agent on an input (API.md, Tasks). Status moves
//   queued → running → succeeded | failed, and queued | running → cancelled;
// a retry or a recovered lease moves running back to queued.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agents/store.hpp"
#include "http/json_text.hpp"

namespace atrium::tasks {

enum class Status { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

std::string_view status_name(Status status);
std::optional<Status> parse_status(std::string_view text);
inline bool is_terminal(Status s) {
  return s == Status::kSucceeded || s == Status::kFailed || s == Status::kCancelled;
}

struct Task {
  std::string id;
  std::string organization_id;
  std::string agent_id;
  Status status = Status::kQueued;
  nlohmann::json input = nlohmann::json::object();
  nlohmann::json output;  // null until succeeded
  std::optional<std::string> error;
  int attempts = 0;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> created_by;
  std::string created_at;
  std::optional<std::string> started_at;
  std::optional<std::string> finished_at;
  // The generation of the task's latest queue message (see queue_body); not part of the API.
  std::int64_t queue_generation = 0;
};

// The API's Task object: {id, agent_id, status, input, output, error, attempts, created_by,
// created_at, started_at, finished_at}.
nlohmann::json to_json(const Task& task);
// The same object written straight into `out` (a list's page): the bytes of to_json().
void write_json(http::JsonText& out, const Task& task);
// That text alone (the answer to a create, every status event): no nlohmann tree built.
std::string json_text(const Task& task);

// The agent a task runs: the agents module's, read through its store.
using Agent = agents::Agent;

// A progress update: step k of n (1 ≤ k ≤ n); `of` is null when the total is not known ahead
// (streamed tokens), and `text` carries the streamed fragment when there is one.
struct Progress {
  int step = 0;
  std::optional<int> of;
  std::optional<std::string> text;
};

nlohmann::json to_json(const Progress& progress);

// The queue message announcing that a task may be ready, and its parsing:
// {"task_id", "organization_id", "generation"}. `generation` is the task's queue generation when
// the message was written (TaskStore): a message of an older generation is a stale duplicate.
// A message without one (written before generations existed) parses as generation 0.
std::string queue_body(std::string_view task_id, std::string_view organization_id,
                       std::int64_t generation);
struct QueuedRef {
  std::string task_id;
  std::string organization_id;
  std::int64_t generation = 0;
};
std::optional<QueuedRef> parse_queue_body(std::string_view body);

// The outbox topic of task messages.
inline constexpr std::string_view kTaskTopic = "tasks";

}  // namespace atrium::tasks
