// The application as the HTTP server sees it: the route table, the middleware chain and the
// console's static files, behind http::RequestHandler. Tests call it directly, without a network.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "access/authorizer.hpp"
#include "app/request_metrics.hpp"
#include "http/pipeline.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "http/static_files.hpp"
#include "platform/metrics.hpp"

namespace atrium::app {

struct ApiOptions {
  std::filesystem::path web_root = "web/dist";
  std::vector<std::string> allowed_origins;  // CORS; empty = same origin only
  // Called for every refusal of an authenticated caller (403 permission_denied or
  // privilege_escalation), a security event to audit (DESIGN.md §10). Runs on the request's
  // thread after the handler; must not throw. Null: not recorded.
  std::function<void(const http::Request&, const Error&)> on_denied;
};

class Api final : public http::RequestHandler {
 public:
  // `authenticator` may be null (no credential verifies: every non-public route answers 401).
  Api(http::Router router, metrics::Registry& metrics, access::Authenticator* authenticator,
      ApiOptions options);

  bool may_block(http::Request& req) override;
  http::Response handle(http::Request& req) override;
  http::Response reject(http::Request& req, const Error& error) override;

  const http::Router& router() const { return router_; }
  const http::Pipeline& outer() const { return outer_; }
  const http::Pipeline& inner() const { return inner_; }

 private:
  void build_pipeline();
  Result<http::Response> route(http::Request& req, const http::Pipeline::Next& next);

  http::Router router_;
  access::Authenticator* authenticator_;
  ApiOptions options_;
  http::StaticFiles static_files_;
  RequestMetrics request_metrics_;
  std::vector<int> permission_index_;  // per route: its permission's catalog index
  http::Pipeline outer_;  // every answer passes here, refusals from the server included
  http::Pipeline inner_;  // requests that reached the application
};

}  // namespace atrium::app
