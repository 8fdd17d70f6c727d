#include "tasks/task.hpp"

#include "platform/ids.hpp"

namespace atrium::tasks {

std::string_view status_name(Status status) {
  switch (status) {
    case Status::kQueued:
      return "queued";
    case Status::kRunning:
      return "running";
    case Status::kSucceeded:
      return "succeeded";
    case Status::kFailed:
      return "failed";
    case Status::kCancelled:
      return "cancelled";
  }
  return "queued";
}

std::optional<Status> parse_status(std::string_view text) {
  for (Status s : {Status::kQueued, Status::kRunning, Status::kSucceeded, Status::kFailed,
                   Status::kCancelled}) {
    if (status_name(s) == text) return s;
  }
  return std::nullopt;
}

namespace {

nlohmann::json nullable(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const Task& t) {
  return {{"id", t.id},
          {"agent_id", t.agent_id},
          {"status", status_name(t.status)},
          {"input", t.input},
          {"output", t.output},
          {"error", nullable(t.error)},
          {"attempts", t.attempts},
          {"created_by", nullable(t.created_by)},
          {"created_at", t.created_at},
          {"started_at", nullable(t.started_at)},
          {"finished_at", nullable(t.finished_at)}};
}

void write_json(http::JsonText& out, const Task& t) {
  // Keys in nlohmann's (sorted) order: the bytes of to_json().
  out.begin_object();
  out.key("agent_id");
  out.string(t.agent_id);
  out.key("attempts");
  out.integer(t.attempts);
  out.key("created_at");
  out.string(t.created_at);
  out.key("created_by");
  out.string_or_null(t.created_by);
  out.key("error");
  out.string_or_null(t.error);
  out.key("finished_at");
  out.string_or_null(t.finished_at);
  out.key("id");
  out.string(t.id);
  out.key("input");
  out.value(t.input);
  out.key("output");
  out.value(t.output);
  out.key("started_at");
  out.string_or_null(t.started_at);
  out.key("status");
  out.string(status_name(t.status));
  out.end_object();
}

std::string json_text(const Task& task) {
  http::JsonText out;
  write_json(out, task);
  return out.take();
}

nlohmann::json to_json(const Progress& p) {
  nlohmann::json out = {{"step", p.step}, {"of", p.of ? nlohmann::json(*p.of) : nullptr}};
  if (p.text) out["text"] = *p.text;
  return out;
}

std::string queue_body(std::string_view task_id, std::string_view organization_id,
                       std::int64_t generation) {
  return nlohmann::json{
      {"task_id", task_id}, {"organization_id", organization_id}, {"generation", generation}}
      .dump();
}

std::optional<QueuedRef> parse_queue_body(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto id = j.find("task_id");
  auto org = j.find("organization_id");
  if (id == j.end() || org == j.end() || !id->is_string() || !org->is_string()) return std::nullopt;
  QueuedRef ref{id->get<std::string>(), org->get<std::string>()};
  if (!is_uuid(ref.task_id) || !is_uuid(ref.organization_id)) return std::nullopt;
  if (auto generation = j.find("generation"); generation != j.end()) {
    if (!generation->is_number_integer() || generation->get<std::int64_t>() < 0)
      return std::nullopt;
    ref.generation = generation->get<std::int64_t>();
  }
  return ref;
}

}  // namespace atrium::tasks
