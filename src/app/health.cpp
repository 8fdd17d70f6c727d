#include "app/health.hpp"

namespace atrium::app {

void add_health_routes(http::Router& router, metrics::Registry& metrics,
                       std::vector<ReadinessCheck> checks) {
  router.add({http::Method::kGet, "/healthz", http::Access::anyone(),
              [](http::Request&) -> Result<http::Response> {
                // A constant answer, not built through nlohmann-json on every probe.
                http::Response res;
                res.headers.set("Content-Type", "application/json");
                res.body = R"({"status":"ok"})";
                return res;
              },
              http::Execution::kInline});

  router.add({http::Method::kGet, "/readyz", http::Access::anyone(),
              [checks = std::move(checks)](http::Request&) -> Result<http::Response> {
                nlohmann::json components = nlohmann::json::object();
                std::vector<std::string> down;
                for (const auto& c : checks) {
                  const bool ok = c.check().has_value();
                  components[c.component] = ok ? "up" : "down";
                  if (!ok) down.push_back(c.component);
                }
                if (down.empty())
                  return http::Response::json(200, {{"status", "ok"}, {"components", components}});
                std::string detail;
                for (const auto& d : down) detail += (detail.empty() ? "" : ", ") + d;
                Error e = Error::unavailable(detail + " unavailable");
                e.fields.clear();
                return fail(std::move(e));
              },
              http::Execution::kBlocking});

  router.add({http::Method::kGet, "/metrics", http::Access::anyone(),
              [&metrics](http::Request&) -> Result<http::Response> {
                http::Response res;
                res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                res.body = metrics.render();
                return res;
              },
              http::Execution::kInline});
}

}  // namespace atrium::app
