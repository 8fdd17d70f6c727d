#include "app/application.hpp"

#include "agents/routes.hpp"
#include "app/health.hpp"
#include "audit/audit.hpp"
#include "platform/log.hpp"
#include "realtime/routes.hpp"
#include "roles/routes.hpp"
#include "tasks/task.hpp"
#include "tenancy/routes.hpp"

namespace atrium::app {
namespace {

// Agents may only name an executor this process's workers run, with settings it understands.
agents::ExecutorCheck executor_check(const tasks::Executors& executors) {
  return [&executors](std::string_view name, const nlohmann::json& config) {
    std::vector<FieldError> out;
    const tasks::Executor* executor = executors.find(name);
    if (!executor) {
      std::string names;
      for (const auto& n : executors.names()) names += (names.empty() ? "" : ", ") + n;
      out.push_back({"executor", "is not a known executor (one of: " + names + ")"});
      return out;
    }
    return executor->validate_config(config);
  };
}

}  // namespace

identity::IdentityOptions identity_options(const Config& config) {
  identity::IdentityOptions o;
  o.hashing.threads = config.hash_threads;
  o.hashing.queue_limit = static_cast<std::size_t>(config.hash_queue);
  o.hashing.nice = config.hash_nice;
  o.hashing.idle = config.hash_idle;
  return o;
}

Application::Application(const Config& config, db::Database& db, broker::EventBus& bus,
                         const Clock& clock, metrics::Registry& metrics, ApplicationOptions options)
    : config_(config),
      db_(db),
      metrics_(metrics),
      options_(std::move(options)),
      tasks_(config_, db, bus, clock, metrics,
             options_.brokers ? options_.brokers->queue.get() : nullptr),
      identity_(db, &bus, clock, config_.jwt_keys, options_.identity),
      agents_(db, clock, executor_check(tasks_.executors())),
      roles_(db, identity_.revocations(), identity_.me_cache(), clock),
      organizations_(db, identity_.revocations(), identity_.me_cache(), clock, config_.data_key),
      members_(db, identity_, clock),
      audit_(db),
      denials_(clock),
      denied_permission_(metrics.counter("atrium_access_denied_total",
                                         "Requests of authenticated callers refused (403)",
                                         {{"code", "permission_denied"}})),
      denied_escalation_(metrics.counter("atrium_access_denied_total",
                                         "Requests of authenticated callers refused (403)",
                                         {{"code", "privilege_escalation"}})),
      denied_unaudited_(metrics.counter(
          "atrium_access_denied_unaudited_total",
          "Refusals left out of the audit log (one row per caller, route and refusal a minute)")),
      hub_(bus, clock,
           {.max_connections_per_tenant =
                static_cast<std::size_t>(config_.ws_connections_per_tenant)}),
      tickets_(db, clock),
      realtime_lookups_(2, 1024) {
  metrics.gauge("atrium_password_hash_queue", "Sign-ins waiting for a hashing thread", [this] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(identity_.hash_pool().queued())}};
  });
  metrics.gauge("atrium_websocket_connections", "Open WebSocket connections", [this] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(hub_.connections())}};
  });
}

Application::~Application() { stop(); }

void Application::record_denial(const http::Request& req, const Error& error) {
  const Principal& caller = *req.principal;
  (error.code == Code::kPrivilegeEscalation ? denied_escalation_ : denied_permission_).inc();
  const std::string route = req.route ? req.route->path : std::string();
  // Any authenticated caller can repeat a refused request at will: a row each time would let
  // them flood the audit log.
  auto suppressed =
      denials_.admit(std::string(caller.actor_type()) + ":" + caller.actor_id() + " " +
                     req.method_text + " " + route + " " + std::string(code_name(error.code)));
  if (!suppressed) {
    denied_unaudited_.inc();
    return;
  }
  nlohmann::json details = {{"code", code_name(error.code)},
                            {"detail", error.detail},
                            {"method", req.method_text},
                            {"route", req.route ? nlohmann::json(route) : nlohmann::json()}};
  if (*suppressed > 0) details["suppressed"] = *suppressed;
  auto r = db_.transact({.tenant = caller.org_id}, [&](db::Tx& tx) {
    return audit::record(tx, audit::Entry::by(caller, "access.denied").from(req).with(details));
  });
  if (!r)
    log::warn("could not audit a refused request",
              {{"request_id", req.request_id}, {"error", r.error().detail}});
}

Result<void> Application::start() {
  if (auto s = identity_.start(); !s) return s;
  if (options_.run_workers)
    tasks_.start(/*workers=*/!(options_.brokers && options_.brokers->distributed));
  return {};
}

void Application::stop() { tasks_.stop(); }

void Application::add_realtime_routes(http::Router& router) {
  realtime::RealtimeRoutes r;
  r.tickets = &tickets_;
  r.allowed_origins = config_.allowed_origins;
  r.authenticate_token = [this](std::string_view token) {
    return identity_.tokens().authenticate_token(token);
  };
  r.session.hub = &hub_;
  r.session.find_task = [this](const Principal& who,
                               const std::string& id) -> Result<nlohmann::json> {
    auto task = tasks_.store().get(who, id);
    if (!task) return fail(task.error());
    return tasks::to_json(*task);
  };
  r.session.run_blocking = [this](std::function<void()> work) {
    return realtime_lookups_.post(std::move(work));
  };
  r.session.revoked = [this](const Principal& p) { return identity_.revoked(p); };
  realtime::add_routes(router, std::move(r));
}

http::Router Application::routes() {
  http::Router router;
  identity_.add_routes(router);
  tenancy::add_routes(router, organizations_, members_);
  roles::add_routes(router, roles_);
  agents::add_routes(router, agents_);
  tasks_.add_routes(router);
  add_realtime_routes(router);
  audit::add_routes(router, audit_);
  std::vector<ReadinessCheck> checks{{"database", [this] { return db_.ping(); }},
                                     tasks_.readiness()};
  if (options_.brokers)
    checks.insert(checks.end(), options_.brokers->readiness.begin(),
                  options_.brokers->readiness.end());
  add_health_routes(router, metrics_, std::move(checks));
  return router;
}

}  // namespace atrium::app
