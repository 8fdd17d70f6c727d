#include "agents/routes.hpp"

#include "http/json_body.hpp"
#include "http/pagination.hpp"
#include "platform/ids.hpp"

namespace atrium::agents {
namespace {

using http::Access;
using http::Execution;
using http::JsonFields;
using http::Method;
using http::Request;
using http::Response;

// Reads the agent fields of a body; `create` makes name and executor required.
AgentFields read_fields(JsonFields& f, bool create) {
  AgentFields out;
  out.name = f.string("name", {.required = create, .max = kMaxName});
  out.description = f.string(
      "description", {.required = false, .min = 0, .max = kMaxDescription, .single_line = false});
  out.executor = f.string("executor", {.required = create, .max = 32});
  out.model = f.string("model", {.required = false, .min = 0, .max = kMaxModel});
  out.instructions = f.string(
      "instructions",
      {.required = false, .min = 0, .max = kMaxInstructions, .trim = false, .single_line = false});
  out.config = f.object("config", false, kMaxConfigBytes);
  return out;
}

void check_executor(const AgentService& service, JsonFields& f, const std::string& executor,
                    const nlohmann::json& config) {
  for (auto& e : service.check()(executor, config)) f.invalid(e.field, e.message);
}

Result<Response> list(AgentService& service, Request& req) {
  return http::list_text_response(
      req, is_uuid, [&](const http::PageQuery& page) { return service.list(*req.principal, page); },
      [](http::JsonText& out, const AgentRow& a) { write_json(out, a); });
}

Result<Response> create(AgentService& service, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  AgentFields fields = read_fields(f, true);
  if (fields.executor && f.ok())
    check_executor(service, f, *fields.executor, fields.config.value_or(nlohmann::json::object()));
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto agent = service.create(*req.principal, fields, req);
  if (!agent) return fail(agent.error());
  return Response::json(201, to_json(*agent));
}

Result<Response> get(AgentService& service, Request& req) {
  auto agent = service.get(*req.principal, req.param("id"));
  if (!agent) return fail(agent.error());
  return Response::json(200, to_json(*agent));
}

Result<Response> update(AgentService& service, Request& req) {
  // The object first (API.md: 404 before the request's own rules).
  auto current = service.get(*req.principal, req.param("id"));
  if (!current) return fail(current.error());
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  AgentFields fields = read_fields(f, false);
  // The executor and config together are checked by the service, against the agent it updates.
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  if (fields.empty()) return fail(Error::invalid("the body names no field to change"));
  auto agent = service.update(*req.principal, req.param("id"), fields, req);
  if (!agent) return fail(agent.error());
  return Response::json(200, to_json(*agent));
}

Result<Response> remove(AgentService& service, Request& req) {
  if (auto ok = service.remove(*req.principal, req.param("id"), req); !ok) return fail(ok.error());
  return Response::no_content();
}

}  // namespace

void add_routes(http::Router& router, AgentService& service) {
  AgentService& s = service;
  router.add({Method::kGet, "/api/agents", Access::permission("agents:read"),
              [&s](Request& r) { return list(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/agents", Access::permission("agents:create"),
              [&s](Request& r) { return create(s, r); }, Execution::kBlocking});
  router.add({Method::kGet, "/api/agents/{id}", Access::permission("agents:read"),
              [&s](Request& r) { return get(s, r); }, Execution::kBlocking});
  router.add({Method::kPatch, "/api/agents/{id}", Access::permission("agents:manage"),
              [&s](Request& r) { return update(s, r); }, Execution::kBlocking});
  router.add({Method::kDelete, "/api/agents/{id}", Access::permission("agents:manage"),
              [&s](Request& r) { return remove(s, r); }, Execution::kBlocking});
}

}  // namespace atrium::agents
