// Everything `atrium serve` runs above the database and the event bus, wired from the
// configuration: identity, the task machinery, the domain services — and the route table built
// from them. serve() and the tests build the same Application, so a test sees exactly the routes
// a server answers (the isolation matrix and the OpenAPI check are generated from routes()).
//
//   Application app(config, db, bus, clock, metrics, {});
//   app.start();                        // revocations, maintenance loop, task workers
//   Api api(app.routes(), metrics, &app.identity().authenticator(), ...);
//
// Construction builds drivers → stores → services (STYLE.md: explicit wiring, no singletons).
// The database, bus, clock and metrics registry must outlive it. Not copyable; thread-safe once
// built (each part documents its own guarantees).
#pragma once

#include <memory>

#include "agents/service.hpp"
#include "app/brokers.hpp"
#include "app/task_runtime.hpp"
#include "audit/log.hpp"
#include "audit/throttle.hpp"
#include "broker/event_bus.hpp"
#include "db/database.hpp"
#include "http/router.hpp"
#include "identity/identity.hpp"
#include "platform/clock.hpp"
#include "platform/config.hpp"
#include "platform/metrics.hpp"
#include "platform/work_queue.hpp"
#include "realtime/hub.hpp"
#include "realtime/tickets.hpp"
#include "roles/service.hpp"
#include "tenancy/members.hpp"
#include "tenancy/organizations.hpp"

namespace atrium::app {

struct ApplicationOptions {
  identity::IdentityOptions identity;
  bool run_workers = true;  // start() starts the task workers and the outbox relay
  // The event bus's and task queue's deployment (ATRIUM_BROKER_URL), outliving the Application.
  // Null or embedded: an in-process queue, and the workers run here. Distributed: RabbitMQ's
  // queue, which start() only relays to (the workers are `atrium worker` processes), and /readyz
  // also checks the brokers' components.
  const Brokers* brokers = nullptr;
};

// The identity options of a serving process, from the configuration.
identity::IdentityOptions identity_options(const Config& config);

class Application {
 public:
  // Throws std::invalid_argument for unusable keys (as identity::Identity does).
  Application(const Config& config, db::Database& db, broker::EventBus& bus, const Clock& clock,
              metrics::Registry& metrics, ApplicationOptions options);
  ~Application();  // stops
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Loads revocations, starts identity's maintenance loop and (with run_workers) the workers.
  Result<void> start();
  // Stops the workers (running tasks go back to the queue) and the relay.
  void stop();

  // The route table: every route the server answers, health and metrics included.
  http::Router routes();
  // Counts a refused authenticated request (metric atrium_access_denied_total) and records it in
  // the audit log (`access.denied`, in the caller's organization): ApiOptions::on_denied. At most
  // one row per caller, route and refusal a minute; the next row's details.suppressed counts
  // those left out (metric atrium_access_denied_unaudited_total).
  void record_denial(const http::Request& req, const Error& error);

  identity::Identity& identity() { return identity_; }
  TaskRuntime& tasks() { return tasks_; }
  agents::AgentService& agents() { return agents_; }
  tenancy::OrganizationService& organizations() { return organizations_; }
  tenancy::MemberService& members() { return members_; }
  roles::RoleService& roles() { return roles_; }

 private:
  void add_realtime_routes(http::Router& router);

  const Config config_;
  db::Database& db_;
  metrics::Registry& metrics_;
  const ApplicationOptions options_;
  TaskRuntime tasks_;
  identity::Identity identity_;
  agents::AgentService agents_;
  roles::RoleService roles_;
  tenancy::OrganizationService organizations_;
  tenancy::MemberService members_;
  audit::AuditLog audit_;
  audit::Throttle denials_;
  metrics::Counter& denied_permission_;
  metrics::Counter& denied_escalation_;
  metrics::Counter& denied_unaudited_;
  // Real-time task status over /ws: the hub fans task events out to this replica's sockets.
  realtime::Hub hub_;
  realtime::Tickets tickets_;
  WorkQueue realtime_lookups_;
};

}  // namespace atrium::app
