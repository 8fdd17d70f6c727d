// The Auth and API-key routes of API.md: parse and validate, call the service, map the result.
#include "http/json_body.hpp"
#include "http/pagination.hpp"
#include "identity/identity.hpp"
#include "platform/ids.hpp"

namespace atrium::identity {
namespace {

using http::Access;
using http::Execution;
using http::JsonFields;
using http::Method;
using http::Request;
using http::Response;

constexpr std::size_t kMaxLoginPasswordBytes = 1024;
constexpr std::size_t kMaxNameChars = 200;

Result<Response> signup(Service& service, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto email = f.email("email");
  auto password = f.string(
      "password",
      {.min = kMinPasswordChars, .max = kMaxPasswordChars, .trim = false, .single_line = false});
  auto name = f.string("name", {.required = false, .min = 0, .max = kMaxNameChars});
  auto org = f.string("organization_name", {.max = kMaxNameChars});
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto bundle = service.signup({*email, *password, name.value_or(""), *org}, req);
  if (!bundle) return fail(bundle.error());
  return Response::json(201, bundle->to_json());
}

Result<Response> login(Service& service, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto email = f.email("email");
  // Any length is checked against the stored hash (up to a bound): the sign-up rules say nothing
  // about an existing account, and a different answer would.
  auto password = f.string(
      "password", {.min = 1, .max = kMaxLoginPasswordBytes, .trim = false, .single_line = false});
  auto org = f.string("organization_id", {.required = false, .max = 64});
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto bundle = service.login({*email, *password, org}, req);
  if (!bundle) return fail(bundle.error());
  return Response::json(200, bundle->to_json());
}

std::optional<std::string> refresh_token_of(Request& req, Result<void>& error) {
  auto body = http::parse_object(req);
  if (!body) {
    error = fail(body.error());
    return std::nullopt;
  }
  JsonFields f(*body);
  auto token = f.string("refresh_token", {.max = 512, .trim = false});
  if (auto ok = f.finish(); !ok) {
    error = fail(ok.error());
    return std::nullopt;
  }
  return token;
}

Result<Response> refresh(Service& service, Request& req) {
  Result<void> error;
  auto token = refresh_token_of(req, error);
  if (!token) return fail(error.error());
  auto bundle = service.refresh(*token, req);
  if (!bundle) return fail(bundle.error());
  return Response::json(200, bundle->to_json());
}

Result<Response> logout(Service& service, Request& req) {
  Result<void> error;
  auto token = refresh_token_of(req, error);
  if (!token) return fail(error.error());
  if (auto ok = service.logout(*token, req); !ok) return fail(ok.error());
  return Response::no_content();
}

Result<Response> switch_org(Service& service, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto org = f.string("organization_id", {.max = 64});
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto bundle = service.switch_organization(*req.principal, *org, req);
  if (!bundle) return fail(bundle.error());
  return Response::json(200, bundle->to_json());
}

Result<Response> me(Service& service, Request& req) {
  auto view = service.me(*req.principal);
  if (!view) return fail(view.error());
  Response res;
  res.status = 200;
  res.headers.set("Content-Type", "application/json");
  res.body = std::move(*view);
  return res;
}

Result<Response> list_keys(ApiKeys& keys, Request& req) {
  return http::list_response(
      req, is_uuid, [&](const http::PageQuery& page) { return keys.list(*req.principal, page); },
      [](const auto& k) { return store::to_json(k); });
}

Result<Response> create_key(ApiKeys& keys, Request& req) {
  auto body = http::parse_object(req);
  if (!body) return fail(body.error());
  JsonFields f(*body);
  auto name = f.string("name", {.max = 100});
  auto permissions = f.strings("permissions", {.max_items = 50, .item_max = 64});
  auto days = f.integer("expires_in_days", 1, 3650);
  if (permissions && permissions->empty())
    f.invalid("permissions", "must name at least one permission");
  if (auto ok = f.finish(); !ok) return fail(ok.error());
  auto created =
      keys.create(*req.principal, *name, *permissions,
                  days ? std::optional<int>(static_cast<int>(*days)) : std::nullopt, req);
  if (!created) return fail(created.error());
  const auto& k = created->key;
  return Response::json(201, {{"id", k.id},
                              {"name", k.name},
                              {"key", created->secret},
                              {"prefix", k.prefix},
                              {"permissions", k.permissions},
                              {"created_at", k.created_at},
                              {"expires_at", k.expires_at ? nlohmann::json(*k.expires_at)
                                                          : nlohmann::json(nullptr)}});
}

Result<Response> revoke_key(ApiKeys& keys, Request& req) {
  const std::string id(req.param("id"));
  if (!is_uuid(id)) return fail(Error::not_found("no such API key"));
  if (auto ok = keys.revoke(*req.principal, id, req); !ok) return fail(ok.error());
  return Response::no_content();
}

}  // namespace

void Identity::add_routes(http::Router& router) {
  Service& s = service_;
  ApiKeys& k = api_keys_;
  router.add({Method::kPost, "/api/auth/signup", Access::anyone(),
              [&s](Request& r) { return signup(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/auth/login", Access::anyone(),
              [&s](Request& r) { return login(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/auth/refresh", Access::anyone(),
              [&s](Request& r) { return refresh(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/auth/logout", Access::anyone(),
              [&s](Request& r) { return logout(s, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/auth/switch", Access::authenticated(),
              [&s](Request& r) { return switch_org(s, r); }, Execution::kBlocking});
  // Inline when the caller's view is cached (the common case), else on the blocking pool.
  router.add({Method::kGet, "/api/me", Access::authenticated(),
              [&s](Request& r) { return me(s, r); }, Execution::kBlocking,
              [this](const Request& r) { return me_ready(r); }});
  router.add({Method::kGet, "/api/api-keys", Access::permission("apikeys:manage"),
              [&k](Request& r) { return list_keys(k, r); }, Execution::kBlocking});
  router.add({Method::kPost, "/api/api-keys", Access::permission("apikeys:manage"),
              [&k](Request& r) { return create_key(k, r); }, Execution::kBlocking});
  router.add({Method::kDelete, "/api/api-keys/{id}", Access::permission("apikeys:manage"),
              [&k](Request& r) { return revoke_key(k, r); }, Execution::kBlocking});
}

}  // namespace atrium::identity
