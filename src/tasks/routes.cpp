#include "tasks/routes.hpp"

#include "audit/audit.hpp"
#include "http/json_body.hpp"
#include "http/pagination.hpp"
#include "platform/ids.hpp"

namespace atrium::tasks {
namespace {

using http::Access;
using http::Method;
using http::Request;
using http::Response;

constexpr std::size_t kMaxIdempotencyKey = 255;

bool valid_idempotency_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxIdempotencyKey &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

const char* kKeyRule = "must be 1 to 255 visible ASCII characters";

// The audit entry for a task change, completed with the task inside the store's transaction.
AlsoInTx audit_entry(const Request& req, std::string action) {
  audit::Entry entry = audit::Entry::by(*req.principal, std::move(action)).from(req);
  return [entry = std::move(entry)](db::Tx& tx, const Task& task) mutable -> Result<void> {
    entry.on("task", task.id)
        .with({{"agent_id", task.agent_id}, {"status", status_name(task.status)}});
    return audit::record(tx, entry);
  };
}

// The body's task, or its problems.
Result<NewTask> read_body(const Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  http::JsonFields f(*body);
  auto input = f.any("input", /*required=*/true, kMaxInputBytes);
  std::optional<std::string> key;
  if (auto k = f.string("idempotency_key",
                        {.required = false, .min = 1, .max = kMaxIdempotencyKey, .trim = false})) {
    if (!valid_idempotency_key(*k)) {
      f.invalid("idempotency_key", kKeyRule);
    } else {
      key = std::move(*k);
    }
  }
  if (auto header = req.headers.get("Idempotency-Key")) {
    if (!valid_idempotency_key(*header)) {
      f.invalid("Idempotency-Key", kKeyRule);
    } else if (key && *key != *header) {
      f.invalid("idempotency_key", "differs from the Idempotency-Key header");
    } else {
      key = std::string(*header);
    }
  }
  if (auto done = f.finish(); !done) return fail(done.error());
  return NewTask{std::string(req.param("id")), std::move(*input), std::move(key), {}};
}

Result<Response> create_task(TaskService& service, Request& req) {
  auto task = read_body(req);
  if (!task) {
    // The agent's absence (another tenant's or a missing one) answers before the body's rules.
    auto agent = service.agent_executor(*req.principal, std::string(req.param("id")));
    if (!agent) return fail(agent.error());
    return fail(task.error());
  }
  auto created = service.create(*req.principal, std::move(*task), audit_entry(req, "task.create"));
  if (!created) return fail(created.error());
  Response res;
  res.status = 202;
  res.headers.set("Content-Type", "application/json");
  res.headers.set("Location", "/api/tasks/" + created->task.id);
  res.body = json_text(created->task);
  return res;
}

Result<Response> list_tasks(TaskService& service, Request& req) {
  auto page = http::page_query(req, is_uuid);
  if (!page) return fail(page.error());
  ListQuery q;
  q.limit = page->limit + 1;  // one more tells whether there is a next page
  if (page->after) q.before_id = *page->after;
  if (http::query_names(req.query, "agent_id")) {
    auto agent = req.query_param("agent_id");
    if (!agent || !is_uuid(*agent)) return fail(Error::field("agent_id", "must be an agent id"));
    q.agent_id = std::move(*agent);
  }
  if (http::query_names(req.query, "status")) {
    auto text = req.query_param("status");
    auto status = text ? parse_status(*text) : std::nullopt;
    if (!status)
      return fail(
          Error::field("status", "must be queued, running, succeeded, failed or cancelled"));
    q.status = *status;
  }
  auto tasks = service.list(*req.principal, q);
  if (!tasks) return fail(tasks.error());
  std::optional<std::string> next;
  if (tasks->size() > page->limit) {
    tasks->resize(page->limit);
    next = tasks->back().id;
  }
  return http::page_text_response(*tasks, next,
                                  [](http::JsonText& out, const Task& t) { write_json(out, t); });
}

}  // namespace

void add_routes(http::Router& router, TaskService& service) {
  router.add({Method::kPost, "/api/agents/{id}/tasks", Access::permission("tasks:create"),
              [&service](Request& req) { return create_task(service, req); }});
  router.add({Method::kGet, "/api/tasks", Access::permission("tasks:read"),
              [&service](Request& req) { return list_tasks(service, req); }});
  router.add({Method::kGet, "/api/tasks/{id}", Access::permission("tasks:read"),
              [&service](Request& req) -> Result<Response> {
                auto task = service.get(*req.principal, std::string(req.param("id")));
                if (!task) return fail(task.error());
                return Response::json(200, to_json(*task));
              }});
  router.add({Method::kPost, "/api/tasks/{id}/cancel", Access::permission("tasks:cancel"),
              [&service](Request& req) -> Result<Response> {
                auto task = service.cancel(*req.principal, std::string(req.param("id")),
                                           audit_entry(req, "task.cancel"));
                if (!task) return fail(task.error());
                return Response::json(200, to_json(*task));
              }});
}

}  // namespace atrium::tasks
