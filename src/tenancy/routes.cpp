#include "tenancy/routes.hpp"

#include <algorithm>

#include "http/json_body.hpp"
#include "http/pagination.hpp"
#include "identity/password.hpp"
#include "platform/ids.hpp"
#include "roles/routes.hpp"

namespace atrium::tenancy {
namespace {

using http::Access;
using http::Execution;
using http::JsonFields;
using http::Method;
using http::Request;
using http::Response;

constexpr const char* kSlugRule =
    "must be 1 to 48 lower-case letters, digits and single hyphens, not starting or ending "
    "with a hyphen";

std::optional<std::string> read_slug(JsonFields& f) {
  auto slug = f.string("slug", {.required = false, .max = 48, .trim = false});
  if (slug && !valid_slug(*slug)) {
    f.invalid("slug", kSlugRule);
    return std::nullopt;
  }
  return slug;
}

// --- organizations

Result<Response> list_orgs(OrganizationService& s, Request& req) {
  return http::list_text_response(
      req, is_uuid, [&](const http::PageQuery& page) { return s.list(*req.principal, page, req); },
      [](http::JsonText& out, const Organization& o) { write_json(out, o); });
}

Result<Response> create_org(OrganizationService& s, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto name = f.string("name", {.max = kMaxOrgName});
  auto slug = read_slug(f);
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto org = s.create(*req.principal, *name, slug, req);
  if (!org) return fail(org.error());
  return Response::json(201, to_json(*org));
}

Result<Response> get_org(OrganizationService& s, Request& req) {
  auto org = s.get(*req.principal, req.param("id"), req);
  if (!org) return fail(org.error());
  return Response::json(200, to_json(*org));
}

Result<Response> update_org(OrganizationService& s, Request& req) {
  // The object first (API.md: 404 before the request's own rules).
  if (!OrganizationService::own(*req.principal, req.param("id")))
    return fail(Error::not_found("no such organization"));
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto name = f.string("name", {.required = false, .max = kMaxOrgName});
  auto slug = read_slug(f);
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  if (!name && !slug) return fail(Error::invalid("the body names no field to change"));
  auto org = s.update(*req.principal, req.param("id"), name, slug, req);
  if (!org) return fail(org.error());
  return Response::json(200, to_json(*org));
}

Result<Response> delete_org(OrganizationService& s, Request& req) {
  if (auto ok = s.remove(*req.principal, req.param("id"), req); !ok) return fail(ok.error());
  return Response::no_content();
}

Result<Response> put_secret(OrganizationService& s, Request& req) {
  if (!OrganizationService::own(*req.principal, req.param("id")))
    return fail(Error::not_found("no such organization"));
  const std::string name(req.param("name"));
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  if (!valid_secret_name(name))
    f.invalid("name",
              "must start with a lower-case letter and hold only lower-case letters, "
              "digits and '_' (at most 64)");
  // Kept exactly as sent: a key's surrounding spaces are the client's business.
  auto value = f.string("value", {.max = kMaxSecretBytes, .trim = false, .single_line = false});
  if (value && value->size() > kMaxSecretBytes)
    f.invalid("value", "must be at most " + std::to_string(kMaxSecretBytes) + " bytes");
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  if (auto ok = s.put_secret(*req.principal, req.param("id"), name, *value, req); !ok)
    return fail(ok.error());
  return Response::no_content();
}

// --- members

Result<Response> list_members(MemberService& s, Request& req) {
  // Members are listed by email: their cursors wrap one.
  return http::list_text_response(
      req, http::valid_email,
      [&](const http::PageQuery& page) { return s.list(*req.principal, page); },
      [](http::JsonText& out, const Member& m) { write_json(out, m); });
}

Result<Response> add_member(MemberService& s, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto email = f.email("email");
  auto role = f.string("role", {.max = roles::kMaxRoleName});
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto added = s.add(*req.principal, *email, *role, req);
  if (!added) return fail(added.error());
  if (added->member) return Response::json(201, {{"member", to_json(*added->member)}});
  return Response::json(201, {{"invitation", to_json(*added->invitation)}});
}

Result<Response> get_member(MemberService& s, Request& req) {
  auto member = s.get(*req.principal, req.param("id"));
  if (!member) return fail(member.error());
  return Response::json(200, to_json(*member));
}

Result<Response> update_member(MemberService& s, Request& req) {
  // The object first (API.md: 404 before the request's own rules).
  if (auto member = s.get(*req.principal, req.param("id")); !member) return fail(member.error());
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto roles = f.strings("roles", {.max_items = 20, .item_max = roles::kMaxRoleName});
  if (roles && roles->empty())
    f.invalid("roles", "must name at least one role (DELETE removes a member)");
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto member = s.update(*req.principal, req.param("id"), *roles, req);
  if (!member) return fail(member.error());
  return Response::json(200, to_json(*member));
}

Result<Response> remove_member(MemberService& s, Request& req) {
  if (auto ok = s.remove(*req.principal, req.param("id"), req); !ok) return fail(ok.error());
  return Response::no_content();
}

Result<Response> accept(MemberService& s, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  Acceptance in;
  auto token = f.string("token", {.max = 256, .trim = false});
  in.name = f.string("name", {.required = false, .min = 0, .max = kMaxOrgName});
  in.password = f.string("password", {.required = false,
                                      .min = identity::kMinPasswordChars,
                                      .max = identity::kMaxPasswordChars,
                                      .trim = false,
                                      .single_line = false});
  if (req.principal && (in.name || in.password))
    f.invalid(in.password ? "password" : "name", "is not used when accepting as a signed-in user");
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  in.token = std::move(*token);
  auto bundle = s.accept(req.principal.get(), in, req);
  if (!bundle) return fail(bundle.error());
  return Response::json(200, bundle->to_json());
}

}  // namespace

bool valid_secret_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !(name.front() >= 'a' && name.front() <= 'z'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void add_routes(http::Router& router, OrganizationService& organizations, MemberService& members) {
  OrganizationService& o = organizations;
  MemberService& m = members;
  const auto blocking = Execution::kBlocking;
  router.add({Method::kGet, "/api/orgs", Access::authenticated(),
              [&o](Request& r) { return list_orgs(o, r); }, blocking});
  router.add({Method::kPost, "/api/orgs", Access::authenticated(),
              [&o](Request& r) { return create_org(o, r); }, blocking});
  router.add({Method::kGet, "/api/orgs/{id}", Access::permission("org:read"),
              [&o](Request& r) { return get_org(o, r); }, blocking});
  router.add({Method::kPut, "/api/orgs/{id}", Access::permission("org:manage"),
              [&o](Request& r) { return update_org(o, r); }, blocking});
  router.add({Method::kDelete, "/api/orgs/{id}", Access::permission("org:manage"),
              [&o](Request& r) { return delete_org(o, r); }, blocking});
  router.add({Method::kPut, "/api/orgs/{id}/secrets/{name}", Access::permission("org:manage"),
              [&o](Request& r) { return put_secret(o, r); }, blocking});
  router.add({Method::kGet, "/api/users", Access::permission("users:read"),
              [&m](Request& r) { return list_members(m, r); }, blocking});
  router.add({Method::kPost, "/api/users", Access::permission("users:manage"),
              [&m](Request& r) { return add_member(m, r); }, blocking});
  router.add({Method::kGet, "/api/users/{id}", Access::permission("users:read"),
              [&m](Request& r) { return get_member(m, r); }, blocking});
  router.add({Method::kPatch, "/api/users/{id}", Access::permission("users:manage"),
              [&m](Request& r) { return update_member(m, r); }, blocking});
  router.add({Method::kDelete, "/api/users/{id}", Access::permission("users:manage"),
              [&m](Request& r) { return remove_member(m, r); }, blocking});
  router.add({Method::kPost, "/api/invitations/accept", Access::anyone(),
              [&m](Request& r) { return accept(m, r); }, blocking});
}

}  // namespace atrium::tenancy
