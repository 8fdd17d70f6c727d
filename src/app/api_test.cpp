// The application's request path without a network: routing, the middleware chain, problem+json.
#include "app/api.hpp"

#include <gtest/gtest.h>
#include <strings.h>

#include <fstream>

#include "app/health.hpp"
#include "support/temp_dir.hpp"

namespace atrium::app {
namespace {

using http::Access;
using http::Method;
using http::Request;
using http::Response;

// Accepts "Bearer good-<perm>" as a principal holding <perm>; anything else is refused.
class FakeAuthenticator final : public access::Authenticator {
 public:
  Result<std::shared_ptr<const Principal>> authenticate(const Request& req) override {
    auto h = req.headers.get("Authorization");
    if (!h) return std::shared_ptr<const Principal>();
    if (!h->starts_with("Bearer good-")) return fail(Error::unauthenticated("bad token"));
    Principal p;
    p.user_id = "u1";
    p.org_id = "o1";
    p.permissions = {std::string(h->substr(12))};
    return std::make_shared<const Principal>(std::move(p));
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto web = dir_.path() / "web";
    std::filesystem::create_directories(web);
    std::ofstream(web / "index.html") << "<!doctype html><title>Atrium console</title>";

    http::Router router;
    add_health_routes(router, metrics_, {{"database", [this]() -> Result<void> {
                                            if (db_down_) return fail(Error::unavailable());
                                            return {};
                                          }}});
    router.add(
        {Method::kGet, "/api/things/{id}", Access::permission("things:read"),
         [](Request& r) -> Result<Response> {
           return Response::json(200, {{"id", r.param("id")}, {"org", *r.principal->org_id}});
         }});
    router.add({Method::kPost, "/api/things", Access::permission("things:create"),
                [](Request& r) -> Result<Response> {
                  return Response::json(201, {{"got", r.body}});
                }});
    router.add({Method::kGet, "/api/throws", Access::anyone(), [](Request&) -> Result<Response> {
                  throw std::runtime_error("SELECT * FROM secrets");
                }});
    router.add({Method::kGet, "/api/fails", Access::anyone(),
                [](Request&) -> Result<Response> { return fail(Error::internal()); }});
    router.add({Method::kGet, "/api/public", Access::anyone(), [](Request& r) -> Result<Response> {
                  return Response::json(200, {{"principal", r.principal != nullptr}});
                }});
    api_ = std::make_unique<Api>(std::move(router), metrics_, &auth_,
                                 ApiOptions{web, {"https://app.example"}});
  }

  Response call(Method m, std::string path, std::map<std::string, std::string> headers = {},
                std::string body = {}) {
    Request req;
    req.method = m;
    req.method_text = std::string(http::method_name(m));
    auto q = path.find('?');
    req.path = path.substr(0, q);
    if (q != std::string::npos) req.query = path.substr(q + 1);
    for (auto& [k, v] : headers) req.headers.add(k, v);
    req.body = std::move(body);
    req.remote_ip = "127.0.0.1";
    return api_->handle(req);
  }

  static nlohmann::json json(const Response& r) { return nlohmann::json::parse(r.body); }

  static void expect_problem(const Response& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json");
    auto body = json(r);
    EXPECT_EQ(body["status"], status);
    EXPECT_EQ(body["code"], code);
    EXPECT_TRUE(body["title"].is_string());
    EXPECT_TRUE(body["detail"].is_string());
    EXPECT_EQ(body["request_id"], std::string(r.headers.get("X-Request-Id").value_or("")));
  }

  atrium::testing::TempDir dir_;
  metrics::Registry metrics_;
  FakeAuthenticator auth_;
  bool db_down_ = false;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, HealthzAnswersOk) {
  auto r = call(Method::kGet, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json(r), nlohmann::json({{"status", "ok"}}));
  EXPECT_FALSE(r.headers.get("X-Request-Id").value_or("").empty());
}

TEST_F(ApiTest, SecurityHeadersOnEveryAnswer) {
  for (const auto& path : {"/healthz", "/api/nope", "/", "/api/throws"}) {
    auto r = call(Method::kGet, path);
    EXPECT_EQ(r.headers.get("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(r.headers.get("X-Frame-Options"), "DENY") << path;
    EXPECT_EQ(r.headers.get("Referrer-Policy"), "no-referrer") << path;
    EXPECT_NE(r.headers.get("Content-Security-Policy").value_or("").find("frame-ancestors 'none'"),
              std::string::npos)
        << path;
  }
  auto console = call(Method::kGet, "/");
  EXPECT_NE(console.headers.get("Content-Security-Policy").value_or("").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(call(Method::kGet, "/api/public").headers.get("Cache-Control"), "no-store");
}

TEST_F(ApiTest, SecurityHeadersAreCompleteAndUnique) {
  // Each field exactly once, whatever the handler set: a second value would leave the browser
  // to pick one.
  const auto count = [](const Response& r, std::string_view name) {
    int n = 0;
    for (const auto& [k, v] : r.headers)
      n += k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0;
    return n;
  };
  for (const auto& path : {"/healthz", "/api/nope", "/", "/api/throws", "/api/public"}) {
    auto r = call(Method::kGet, path);
    for (const char* name : {"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                             "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy",
                             "Content-Security-Policy", "Cache-Control", "X-Request-Id"})
      EXPECT_EQ(count(r, name), 1) << path << " " << name;
    EXPECT_EQ(r.headers.get("Cross-Origin-Opener-Policy"), "same-origin") << path;
    EXPECT_EQ(r.headers.get("Cross-Origin-Resource-Policy"), "same-origin") << path;
  }
  // The console's files keep their own caching; everything else is never stored.
  EXPECT_EQ(call(Method::kGet, "/").headers.get("Cache-Control"), "no-cache");
  EXPECT_EQ(call(Method::kGet, "/healthz").headers.get("Cache-Control"), "no-store");
}

TEST_F(ApiTest, UnknownApiPathIs404Problem) {
  expect_problem(call(Method::kGet, "/api/nothing/here"), 404, "not_found");
  expect_problem(call(Method::kPost, "/api/unknown", {{"Content-Type", "application/json"}}, "{}"),
                 404, "not_found");
}

TEST_F(ApiTest, KnownPathOtherMethodIs405WithAllow) {
  auto r = call(Method::kDelete, "/api/things");
  expect_problem(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers.get("Allow"), "POST");
}

TEST_F(ApiTest, OtherPathsServeTheConsole) {
  auto r = call(Method::kGet, "/agents/123");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Atrium console"), std::string::npos);
}

TEST_F(ApiTest, ExceptionBecomes500WithoutLeaking) {
  auto r = call(Method::kGet, "/api/throws");
  expect_problem(r, 500, "internal");
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos);
  EXPECT_EQ(r.body.find("secrets"), std::string::npos);
  expect_problem(call(Method::kGet, "/api/fails"), 500, "internal");
}

TEST_F(ApiTest, OrderOfChecksCredentialsPermissionObject) {
  expect_problem(call(Method::kGet, "/api/things/x"), 401, "unauthenticated");
  expect_problem(call(Method::kGet, "/api/things/x", {{"Authorization", "Bearer forged"}}), 401,
                 "unauthenticated");
  auto denied = call(Method::kGet, "/api/things/x", {{"Authorization", "Bearer good-other:read"}});
  expect_problem(denied, 403, "permission_denied");
  EXPECT_NE(json(denied)["detail"].get<std::string>().find("things:read"), std::string::npos);
  auto ok = call(Method::kGet, "/api/things/x%20y", {{"Authorization", "Bearer good-things:read"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json(ok)["id"], "x y");
  EXPECT_EQ(call(Method::kGet, "/api/things/x", {{"Authorization", "Bearer good-*"}}).status, 200);
}

TEST_F(ApiTest, PublicRoutesIgnoreMissingCredentials) {
  EXPECT_EQ(json(call(Method::kGet, "/api/public"))["principal"], false);
  EXPECT_EQ(
      json(call(Method::kGet, "/api/public", {{"Authorization", "Bearer good-x"}}))["principal"],
      true);
}

TEST_F(ApiTest, BodiesMustBeJson) {
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer good-things:create"}};
  auto plain = auth;
  plain["Content-Type"] = "text/plain";
  expect_problem(call(Method::kPost, "/api/things", plain, "{}"), 415, "unsupported_media_type");
  auto missing = auth;
  expect_problem(call(Method::kPost, "/api/things", missing, "{}"), 415, "unsupported_media_type");
  auto json_type = auth;
  json_type["Content-Type"] = "application/json; charset=utf-8";
  EXPECT_EQ(call(Method::kPost, "/api/things", json_type, "{}").status, 201);
  // Without the permission the answer is 403, whatever the body.
  expect_problem(call(Method::kPost, "/api/things",
                      {{"Content-Type", "text/plain"}, {"Authorization", "Bearer good-x"}}, "x"),
                 403, "permission_denied");
}

TEST_F(ApiTest, RequestIdsAreKeptWhenSafe) {
  auto r = call(Method::kGet, "/api/nothing", {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(r.headers.get("X-Request-Id"), "abc-123");
  EXPECT_EQ(json(r)["request_id"], "abc-123");
  auto bad = call(Method::kGet, "/healthz", {{"X-Request-Id", "evil\"id\nwith newline"}});
  EXPECT_NE(bad.headers.get("X-Request-Id"), "evil\"id\nwith newline");
}

TEST_F(ApiTest, RejectionsPassThroughTheChain) {
  Request req;
  auto r = api_->reject(req, Error{Code::kPayloadTooLarge, "too big", {}, 0});
  expect_problem(r, 413, "payload_too_large");
  EXPECT_EQ(r.headers.get("X-Content-Type-Options"), "nosniff");
}

TEST_F(ApiTest, ReadyzNamesTheComponentDown) {
  EXPECT_EQ(call(Method::kGet, "/readyz").status, 200);
  db_down_ = true;
  auto r = call(Method::kGet, "/readyz");
  expect_problem(r, 503, "unavailable");
  EXPECT_NE(json(r)["detail"].get<std::string>().find("database"), std::string::npos);
}

TEST_F(ApiTest, MetricsCountRequestsByRouteAndStatus) {
  call(Method::kGet, "/healthz");
  call(Method::kGet, "/healthz");
  call(Method::kGet, "/api/nothing");
  auto r = call(Method::kGet, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(
      r.body.find("atrium_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(
                "atrium_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(r.body.find("atrium_http_request_duration_seconds_bucket{route=\"/healthz\""),
            std::string::npos);
}

TEST_F(ApiTest, CorsForAllowedOriginsOnly) {
  auto pre = call(Method::kOptions, "/api/things",
                  {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.headers.get("Access-Control-Allow-Origin"), "https://app.example");
  auto other = call(Method::kGet, "/healthz", {{"Origin", "https://evil.example"}});
  EXPECT_FALSE(other.headers.has("Access-Control-Allow-Origin"));
  auto allowed = call(Method::kGet, "/healthz", {{"Origin", "https://app.example"}});
  EXPECT_EQ(allowed.headers.get("Access-Control-Allow-Origin"), "https://app.example");
}

}  // namespace
}  // namespace atrium::app
