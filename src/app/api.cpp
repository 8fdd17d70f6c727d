#include "app/api.hpp"

#include <algorithm>

#include "access/permissions.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::app {

using http::Pipeline;
using http::Request;
using http::Response;

namespace {

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool is_api_path(std::string_view path) { return path == "/api" || path.starts_with("/api/"); }

constexpr std::string_view kApiCsp = "default-src 'none'; frame-ancestors 'none'";
constexpr std::string_view kConsoleCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

// The security headers of every answer: the console's CSP for HTML, the API's for anything else;
// `Cache-Control: no-store` unless a static file brought its own caching. Precomputed, attached by
// pointer: set one by one they cost ~2k instructions per request (callgrind).
std::vector<std::pair<std::string, std::string>> security_fields(std::string_view csp,
                                                                 bool no_store) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Content-Security-Policy", std::string(csp)},
  };
  if (no_store) fields.emplace_back("Cache-Control", "no-store");
  return fields;
}

const http::HeaderBlock& security_headers(bool html, bool no_store) {
  static const http::HeaderBlock blocks[] = {
      http::HeaderBlock(security_fields(kApiCsp, false)),
      http::HeaderBlock(security_fields(kApiCsp, true)),
      http::HeaderBlock(security_fields(kConsoleCsp, false)),
      http::HeaderBlock(security_fields(kConsoleCsp, true)),
  };
  return blocks[(html ? 2 : 0) + (no_store ? 1 : 0)];
}

bool body_expected(http::Method m) {
  return m == http::Method::kPost || m == http::Method::kPut || m == http::Method::kPatch;
}

bool is_json(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto media = content_type.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/json" ||
         (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

Api::Api(http::Router router, metrics::Registry& metrics, access::Authenticator* authenticator,
         ApiOptions options)
    : router_(std::move(router)),
      authenticator_(authenticator),
      options_(std::move(options)),
      static_files_(options_.web_root),
      request_metrics_(metrics, router_) {
  for (const auto& r : router_.routes())
    permission_index_.push_back(r.access.kind() == http::Access::Kind::kPermission
                                    ? access::catalog_index(r.access.permission())
                                    : access::kNotInCatalog);
  build_pipeline();
}

// The middleware chain, outermost first. Each step says why it stands where it does.
void Api::build_pipeline() {
  // 1. Observe: first, so the request id exists for every later step and the access log and
  //    metrics see the final answer of every request, refusals and crashes included.
  outer_.use("observe", [this](Request& req, const Pipeline::Next& next) -> Result<Response> {
    auto incoming = req.headers.get("X-Request-Id");
    req.request_id = incoming && valid_request_id(*incoming) ? std::string(*incoming) : new_id();
    Result<Response> res = next(req);
    if (!res) res = http::problem(res.error(), req.request_id);  // the barrier normally did this
    res->headers.set("X-Request-Id", req.request_id);

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - req.received_at).count();
    // Bounded label values: the route template, "static" for the console's files, else
    // "unmatched" (404s, refusals), never the raw path.
    const std::string_view label = req.route ? std::string_view(req.route->path)
                                   : res->status < 400 && !is_api_path(req.path) ? "static"
                                                                                 : "unmatched";
    request_metrics_.record(req.route, label, req.method, res->status, seconds);

    log::Line line(log::Level::kInfo, "request");
    line.field("request_id", req.request_id)
        .field("method", req.method_text)
        .field("path", req.path)
        .field("route", label)
        .field("status", res->status)
        .field("latency_ms", seconds * 1000.0)
        .field("ip", req.remote_ip);
    if (req.principal) {
      if (req.principal->org_id) {
        line.field("tenant", *req.principal->org_id);
      } else {
        line.null_field("tenant");
      }
      line.field("user", req.principal->user_id);
      if (req.principal->kind == Principal::Kind::kApiKey)
        line.field("api_key", req.principal->api_key_id);
    }
    return res;
  });

  // 2. Security headers: on every answer, including errors and static files.
  outer_.use("security_headers", [](Request& req, const Pipeline::Next& next) -> Result<Response> {
    Result<Response> res = next(req);
    if (!res) return res;
    auto& h = res->headers;
    const bool html = h.get("Content-Type").value_or("").starts_with("text/html");
    // API answers may carry tokens and tenant data: never cache them.
    const bool no_store = is_api_path(req.path) || !h.has("Cache-Control");
    h.set_block(security_headers(html, no_store));
    return res;
  });

  // 3. CORS: before the barrier so a preflight is answered without routing or credentials, and
  //    allowed origins get their headers on error answers too.
  outer_.use("cors", [this](Request& req, const Pipeline::Next& next) -> Result<Response> {
    auto origin = req.headers.get("Origin");
    const bool allowed =
        origin && std::find(options_.allowed_origins.begin(), options_.allowed_origins.end(),
                            *origin) != options_.allowed_origins.end();
    if (allowed && req.method == http::Method::kOptions &&
        req.headers.has("Access-Control-Request-Method")) {
      Response pre = Response::no_content();
      pre.headers.set("Access-Control-Allow-Origin", std::string(*origin));
      pre.headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
      pre.headers.set("Access-Control-Allow-Headers",
                      "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
      pre.headers.set("Access-Control-Max-Age", "600");
      pre.headers.set("Vary", "Origin");
      return pre;
    }
    Result<Response> res = next(req);
    if (res && allowed) {
      res->headers.set("Access-Control-Allow-Origin", std::string(*origin));
      res->headers.set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
      res->headers.set("Vary", "Origin");
    }
    return res;
  });

  // 4. Barrier: turns errors into problem+json and anything thrown into a logged 500, so nothing
  //    internal leaks and no handler can take the process down.
  outer_.use("barrier", [this](Request& req, const Pipeline::Next& next) -> Result<Response> {
    try {
      Result<Response> res = next(req);
      if (!res) {
        const Code code = res.error().code;
        if (code == Code::kInternal)
          log::error("request failed",
                     {{"request_id", req.request_id}, {"detail", res.error().detail}});
        // A refused authenticated caller is a security event. Only on the blocking pool: the
        // hook writes to the database (every permission route runs there).
        if ((code == Code::kPermissionDenied || code == Code::kPrivilegeEscalation) &&
            req.principal && req.route && req.route->execution == http::Execution::kBlocking &&
            options_.on_denied)
          options_.on_denied(req, res.error());
        return http::problem(res.error(), req.request_id);
      }
      return res;
    } catch (const std::exception& e) {
      log::error("handler threw", {{"request_id", req.request_id}, {"error", e.what()}});
    } catch (...) {
      log::error("handler threw", {{"request_id", req.request_id}, {"error", "unknown"}});
    }
    return http::problem(Error::internal(), req.request_id);
  });

  // 5. Route: find the handler (404 / 405 with Allow); non-API GETs go to the console's files.
  inner_.use("route",
             [this](Request& req, const Pipeline::Next& next) { return route(req, next); });

  // 6. Authenticate: credential → Principal. A credential that does not verify is refused even on
  //    a route that would not need one, so a client learns its token is bad.
  inner_.use("authenticate", [this](Request& req, const Pipeline::Next& next) -> Result<Response> {
    if (req.route->access.kind() != http::Access::Kind::kPublic ||
        req.headers.has("Authorization")) {
      if (authenticator_) {
        auto principal = authenticator_->authenticate(req);
        if (!principal) {
          if (req.route->access.kind() != http::Access::Kind::kPublic)
            return fail(principal.error());
        } else {
          req.principal = std::move(*principal);
        }
      }
    }
    return next(req);
  });

  // 7. Authorize: the route's permission, before the handler looks at the object, so a caller
  //    without it gets 403 even for an object that does not exist (API.md, order of checks).
  inner_.use("authorize", [this](Request& req, const Pipeline::Next& next) -> Result<Response> {
    const int index =
        permission_index_[static_cast<std::size_t>(req.route - router_.routes().data())];
    if (auto ok = access::authorize(req.route->access, index, req.principal.get()); !ok)
      return fail(ok.error());
    return next(req);
  });

  // 8. Body type: a body must be JSON (415), checked after authorization so it reveals nothing.
  inner_.use("json_body", [](Request& req, const Pipeline::Next& next) -> Result<Response> {
    if (body_expected(req.method) && !req.body.empty() &&
        !is_json(req.headers.get("Content-Type").value_or(""))) {
      return fail(
          Error{Code::kUnsupportedMediaType, "request body must be application/json", {}, 0});
    }
    return next(req);
  });
}

Result<Response> Api::route(Request& req, const Pipeline::Next& next) {
  if (req.route) return next(req);  // matched by may_block() on the I/O thread
  auto match = router_.match(req.method, req.path);
  switch (match.outcome) {
    case http::Router::Match::Outcome::kFound:
      req.route = match.route;
      req.params = std::move(match.params);
      return next(req);
    case http::Router::Match::Outcome::kMethodNotAllowed: {
      Response res = http::problem(
          Error{Code::kMethodNotAllowed, "method not allowed; allowed: " + match.allow, {}, 0},
          req.request_id);
      res.headers.set("Allow", match.allow);
      return res;
    }
    case http::Router::Match::Outcome::kNotFound:
      break;
  }
  if (!is_api_path(req.path) &&
      (req.method == http::Method::kGet || req.method == http::Method::kHead))
    return static_files_.serve(req);
  return fail(Error::not_found("no such route"));
}

bool Api::may_block(Request& req) {
  auto match = router_.match(req.method, req.path);
  if (match.outcome == http::Router::Match::Outcome::kFound) {
    // Kept for the route step: a path is matched once per request.
    req.route = match.route;
    req.params = std::move(match.params);
    const http::Route& route = *match.route;
    if (route.execution == http::Execution::kInline) return false;
    return !(route.inline_when && route.inline_when(req));
  }
  // Static files read the disk; 404/405 answers are cheap but rare, so keep one rule.
  return true;
}

Response Api::handle(Request& req) {
  const http::Handler terminal = [](Request& r) -> Result<Response> { return r.route->handler(r); };
  const http::Handler application = [&](Request& r) { return inner_.run(r, terminal); };
  auto res = outer_.run(req, application);
  return res ? std::move(*res) : http::problem(res.error(), req.request_id);
}

Response Api::reject(Request& req, const Error& error) {
  const http::Handler refusal = [&](Request&) -> Result<Response> { return fail(error); };
  auto res = outer_.run(req, refusal);
  return res ? std::move(*res) : http::problem(res.error(), req.request_id);
}

}  // namespace atrium::app
