#include "app/commands.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "access/seed.hpp"
#include "app/api.hpp"
#include "app/health.hpp"
#include "app/task_runtime.hpp"
#include "broker/embedded/embedded_event_bus.hpp"
#include "db/migrations.hpp"
#include "db/open.hpp"
#include "http/json_body.hpp"
#include "http/server.hpp"
#include "identity/identity.hpp"
#include "platform/log.hpp"
#include "platform/work_queue.hpp"
#include "realtime/routes.hpp"
#include "tasks/task.hpp"

namespace atrium::app {
namespace {

// Waits for SIGTERM or SIGINT. The signals were blocked in main() before any thread started, so
// only this call receives them.
int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

// Migrations and the seed run as the role that owns the schema (ATRIUM_DATABASE_MIGRATION_URL,
// by default the application's URL), without a statement timeout.
Result<std::unique_ptr<db::Database>> open_and_migrate(const Config& config) {
  auto db = db::open(config.migration_url(), {.pool_size = 1, .statement_timeout = {}});
  if (!db) return fail(db.error());
  if (auto m = db::migrate(**db); !m) return fail(m.error());
  return db;
}

int report(const Error& e, std::string_view what) {
  log::error(what, {{"error", e.detail.empty() ? std::string(code_name(e.code)) : e.detail}});
  return 1;
}

identity::IdentityOptions identity_options(const Config& config, bool serving) {
  identity::IdentityOptions o;
  o.hashing.threads = config.hash_threads;
  o.hashing.queue_limit = static_cast<std::size_t>(config.hash_queue);
  o.hashing.nice = config.hash_nice;
  if (!serving) o.maintenance_interval = std::chrono::milliseconds(0);
  return o;
}

// The password for an operator command: the environment, else one line of standard input
// (without echo on a terminal).
std::optional<std::string> read_admin_password() {
  if (const char* env = std::getenv("ATRIUM_ADMIN_PASSWORD")) return std::string(env);
  const bool tty = isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::cerr << "Password: " << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int migrate(const Config& config) {
  auto db = db::open(config.migration_url(), {.pool_size = 1, .statement_timeout = {}});
  if (!db) return report(db.error(), "cannot open the database");
  auto applied = db::migrate(**db);
  if (!applied) return report(applied.error(), "migration failed");
  log::info("database migrated", {{"applied", *applied}});
  return 0;
}

int seed(const Config& config) {
  auto db = open_and_migrate(config);
  if (!db) return report(db.error(), "cannot prepare the database");
  auto r = access::seed(**db);
  if (!r) return report(r.error(), "seed failed");
  log::info("catalog seeded", {{"permissions_added", r->permissions_added},
                               {"roles_added", r->roles_added},
                               {"grants_changed", r->grants_changed}});
  return 0;
}

int serve(Config config) {
  const auto started = std::chrono::steady_clock::now();
  if (auto s = resolve_secrets(config); !s) return report(s.error(), "configuration refused");

  {
    auto owner = open_and_migrate(config);
    if (!owner) return report(owner.error(), "cannot prepare the database");
    if (auto r = access::seed(**owner); !r) return report(r.error(), "seed failed");
  }
  // The application's own connections (on PostgreSQL a role subject to row-level security), for
  // handlers, task workers, and the relay's and the workers' maintenance threads.
  auto db = db::open(
      config.database_url,
      {.pool_size = config.handler_threads + config.workers + 4,
       .statement_timeout = std::chrono::seconds(config.database_statement_timeout_seconds)});
  if (!db) return report(db.error(), "cannot open the database");

  metrics::Registry metrics;
  http::Router router;
  db::Database& database = **db;
  // In-process events; the RabbitMQ bus replaces it when ATRIUM_BROKER_URL names one.
  broker::EmbeddedEventBus bus;
  SystemClock clock;
  TaskRuntime tasks(config, database, bus, clock, metrics);
  identity::Identity identity(database, &bus, clock, config.jwt_keys,
                              identity_options(config, true));
  if (auto s = identity.start(); !s) return report(s.error(), "cannot load token revocations");
  identity.add_routes(router);
  tasks.add_routes(router);
  metrics.gauge("atrium_password_hash_queue", "Sign-ins waiting for a hashing thread", [&identity] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(identity.hash_pool().queued())}};
  });
  // Real-time task status over /ws: the hub fans task events out to this replica's sockets.
  realtime::Hub hub(
      bus, clock,
      {.max_connections_per_tenant = static_cast<std::size_t>(config.ws_connections_per_tenant)});
  realtime::Tickets tickets(database, clock);
  WorkQueue realtime_lookups(2, 1024);
  realtime::RealtimeRoutes realtime_routes;
  realtime_routes.tickets = &tickets;
  realtime_routes.allowed_origins = config.allowed_origins;
  realtime_routes.authenticate_token = [&identity](std::string_view token) {
    return identity.tokens().authenticate_token(token);
  };
  realtime_routes.session.hub = &hub;
  realtime_routes.session.find_task = [&tasks](const Principal& who,
                                               const std::string& id) -> Result<nlohmann::json> {
    auto task = tasks.store().get(who, id);
    if (!task) return fail(task.error());
    return tasks::to_json(*task);
  };
  realtime_routes.session.run_blocking = [&realtime_lookups](std::function<void()> work) {
    return realtime_lookups.post(std::move(work));
  };
  realtime_routes.session.revoked = [&identity](const Principal& p) { return identity.revoked(p); };
  realtime::add_routes(router, std::move(realtime_routes));
  metrics.gauge("atrium_websocket_connections", "Open WebSocket connections", [&hub] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(hub.connections())}};
  });

  add_health_routes(router, metrics,
                    {{"database", [&database] { return database.ping(); }}, tasks.readiness()});

  Api api(std::move(router), metrics, &identity.authenticator(),
          ApiOptions{config.web_root, config.allowed_origins});

  http::ServerOptions options;
  options.host = config.listen_host;
  options.port = config.listen_port;
  options.max_body_bytes = config.max_body_bytes;
  options.max_connections = config.max_connections;
  options.header_timeout = std::chrono::seconds(config.header_timeout_seconds);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  options.io_threads = config.io_threads;
  options.handler_threads = config.handler_threads;
  http::Server server(options, api);
  metrics.gauge("atrium_http_connections", "Open HTTP connections", [&server] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(server.active_connections())}};
  });
  tasks.start();
  if (auto s = server.start(); !s) return report(s.error(), "cannot start the server");

  const auto ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log::info("listening", {{"address", config.listen_host + ":" + std::to_string(server.port())},
                          {"port", server.port()},
                          {"env", config.production() ? "production" : "development"},
                          {"database", database.dialect()},
                          {"ready_ms", ready_ms}});
  log::flush();  // operators and scripts wait for this line

  int sig = wait_for_signal();
  log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.stop(std::chrono::seconds(10));
  tasks.stop();
  log::info("stopped");
  log::flush();
  return 0;
}

int mint_token(Config config, const std::string& email, const std::optional<std::string>& org,
               bool json) {
  if (auto s = resolve_secrets(config); !s) return report(s.error(), "configuration refused");
  auto db = open_and_migrate(config);
  if (!db) return report(db.error(), "cannot prepare the database");
  if (auto r = access::seed(**db); !r) return report(r.error(), "seed failed");
  SystemClock clock;
  identity::Identity identity(**db, nullptr, clock, config.jwt_keys,
                              identity_options(config, false));
  std::string lowered = email;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto bundle = identity.service().mint(lowered, org);
  if (!bundle) return report(bundle.error(), "cannot mint a token");
  std::cout << (json ? bundle->to_json().dump(2) : bundle->access_token) << "\n";
  return 0;
}

int create_superadmin(Config config, const std::string& email) {
  std::string lowered = email;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!http::valid_email(lowered)) {
    std::cerr << "atrium: --email: not a valid email address\n";
    return 2;
  }
  auto password = read_admin_password();
  const std::size_t chars = password ? http::utf8_length(*password) : 0;
  if (!password || chars < identity::kMinPasswordChars || chars > identity::kMaxPasswordChars) {
    std::cerr
        << "atrium: the password must be 10 to 128 characters (ATRIUM_ADMIN_PASSWORD or stdin)\n";
    return 2;
  }
  if (auto s = resolve_secrets(config); !s) return report(s.error(), "configuration refused");
  auto db = open_and_migrate(config);
  if (!db) return report(db.error(), "cannot prepare the database");
  if (auto r = access::seed(**db); !r) return report(r.error(), "seed failed");
  SystemClock clock;
  identity::Identity identity(**db, nullptr, clock, config.jwt_keys,
                              identity_options(config, false));
  auto user = identity.service().create_superadmin(lowered, *password);
  if (!user) return report(user.error(), "cannot create the super admin");
  log::info("super admin ready", {{"user", user->id}, {"email", user->email}});
  std::cout << user->id << "\n";
  return 0;
}

}  // namespace atrium::app
