#include "roles/routes.hpp"

#include <algorithm>
#include <cctype>

#include "access/permissions.hpp"
#include "http/json_body.hpp"
#include "http/pagination.hpp"
#include "platform/ids.hpp"

namespace atrium::roles {
namespace {

using http::Access;
using http::Execution;
using http::JsonFields;
using http::Method;
using http::Request;
using http::Response;

RoleFields read_fields(JsonFields& f, bool create) {
  RoleFields out;
  out.name = f.string("name", {.required = create, .max = kMaxRoleName});
  if (out.name && !valid_role_name(*out.name)) {
    f.invalid("name",
              "must start with a letter or digit and hold only letters, digits, spaces, '_', "
              "'-' and '.'");
    out.name.reset();
  }
  out.description =
      f.string("description",
               {.required = false, .min = 0, .max = kMaxRoleDescription, .single_line = false});
  out.permissions = f.strings(
      "permissions", {.required = create, .max_items = kMaxRolePermissions, .item_max = 64});
  if (out.permissions && out.permissions->empty()) {
    f.invalid("permissions", "must name at least one permission");
    out.permissions.reset();
  }
  return out;
}

Result<Response> permissions(Request&) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& p : access::catalog())
    items.push_back({{"name", p.name}, {"description", p.description}});
  return Response::json(200, {{"items", std::move(items)}});
}

Result<Response> list(RoleService& service, Request& req) {
  return http::list_response(
      req, is_uuid, [&](const http::PageQuery& page) { return service.list(*req.principal, page); },
      [](const Role& r) { return to_json(r); });
}

Result<Response> create(RoleService& service, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  RoleFields fields = read_fields(f, true);
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto role = service.create(*req.principal, fields, req);
  if (!role) return fail(role.error());
  return Response::json(201, to_json(*role));
}

Result<Response> update(RoleService& service, Request& req) {
  // The object first (API.md: 404 before the request's own rules), and a system role is
  // read-only whatever the body says.
  auto current = service.get(*req.principal, req.param("id"));
  if (!current) return fail(current.error());
  if (current->system())
    return fail(Error{Code::kPermissionDenied, "system roles are read-only", {}, 0});
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  RoleFields fields = read_fields(f, false);
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  if (!fields.name && !fields.description && !fields.permissions)
    return fail(Error::invalid("the body names no field to change"));
  auto role = service.update(*req.principal, req.param("id"), fields, req);
  if (!role) return fail(role.error());
  return Response::json(200, to_json(*role));
}

Result<Response> remove(RoleService& service, Request& req) {
  if (auto ok = service.remove(*req.principal, req.param("id"), req); !ok) return fail(ok.error());
  return Response::no_content();
}

}  // namespace

bool valid_role_name(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (std::isalnum(u) || c == ' ' || c == '_' || c == '-' || c == '.');
  });
}

void add_routes(http::Router& router, RoleService& service) {
  RoleService& s = service;
  // Blocking although the answer is constant: authenticating an API key may read the database.
  router.add({Method::kGet, "/api/permissions", Access::authenticated(), permissions,
              Execution::kBlocking});
  router.add({Method::kGet, "/api/roles", Access::permission("users:read"),
              [&s](Request& r) { return list(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/roles", Access::permission("roles:manage"),
              [&s](Request& r) { return create(s, r); }, Execution::kBlocking});
  router.add({Method::kPatch, "/api/roles/{id}", Access::permission("roles:manage"),
              [&s](Request& r) { return update(s, r); }, Execution::kBlocking});
  router.add({Method::kDelete, "/api/roles/{id}", Access::permission("roles:manage"),
              [&s](Request& r) { return remove(s, r); }, Execution::kBlocking});
}

}  // namespace atrium::roles
