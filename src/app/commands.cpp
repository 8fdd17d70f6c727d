#include "app/commands.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "access/seed.hpp"
#include "app/api.hpp"
#include "app/application.hpp"
#include "app/brokers.hpp"
#include "app/health.hpp"
#include "app/task_runtime.hpp"
#include "broker/embedded/embedded_event_bus.hpp"
#include "db/migrations.hpp"
#include "db/open.hpp"
#include "http/json_body.hpp"
#include "http/server.hpp"
#include "identity/identity.hpp"
#include "platform/log.hpp"

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

// Operator commands run once: no background maintenance.
identity::IdentityOptions command_identity_options(const Config& config) {
  identity::IdentityOptions o = identity_options(config);
  o.maintenance_interval = std::chrono::milliseconds(0);
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

// What a worker's /readyz checks: the database, the task queue, the brokers' other components.
std::vector<ReadinessCheck> readiness_checks(db::Database& database, TaskRuntime& tasks,
                                             const Brokers& brokers) {
  std::vector<ReadinessCheck> checks{{"database", [&database] { return database.ping(); }},
                                     tasks.readiness()};
  checks.insert(checks.end(), brokers.readiness.begin(), brokers.readiness.end());
  return checks;
}

http::ServerOptions server_options(const Config& config) {
  http::ServerOptions options;
  options.host = config.listen_host;
  options.port = config.listen_port;
  options.max_body_bytes = config.max_body_bytes;
  options.max_connections = config.max_connections;
  options.header_timeout = std::chrono::seconds(config.header_timeout_seconds);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  options.io_threads = config.io_threads;
  options.handler_threads = config.handler_threads;
  return options;
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

int print_routes(const Config& config, bool json) {
  // The table is built exactly as serve() builds it; nothing is served, signed or stored, so an
  // empty in-memory database and throwaway keys are enough.
  Config c = config;
  c.jwt_keys = {{"routes", std::string(32, 'r')}};
  c.data_key = std::string(32, 'd');
  c.database_url = "sqlite://:memory:";
  auto db = db::open(c.database_url, {.pool_size = 1});
  if (!db) return report(db.error(), "cannot open an in-memory database");
  metrics::Registry metrics;
  broker::EmbeddedEventBus bus;
  SystemClock clock;
  ApplicationOptions options{.identity = command_identity_options(c), .run_workers = false};
  Application app(c, **db, bus, clock, metrics, options);
  const http::Router table = app.routes();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : table.routes()) {
    const auto kind = r.access.kind();
    const std::string access = kind == http::Access::Kind::kPublic          ? "public"
                               : kind == http::Access::Kind::kAuthenticated ? "authenticated"
                                                                            : "permission";
    if (json) {
      out.push_back({{"method", http::method_name(r.method)},
                     {"path", r.path},
                     {"access", access},
                     {"permission", kind == http::Access::Kind::kPermission
                                        ? nlohmann::json(r.access.permission())
                                        : nlohmann::json(nullptr)}});
    } else {
      std::cout << http::method_name(r.method) << " " << r.path << " "
                << (kind == http::Access::Kind::kPermission ? r.access.permission() : access)
                << "\n";
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

int serve(Config config) {
  const auto started = std::chrono::steady_clock::now();
  if (auto s = resolve_secrets(config); !s) return report(s.error(), "configuration refused");

  auto owner = open_and_migrate(config);
  if (!owner) return report(owner.error(), "cannot prepare the database");
  if (auto r = access::seed(**owner); !r) return report(r.error(), "seed failed");
  // The application's own connections (on PostgreSQL a role subject to row-level security), for
  // handlers, task workers, and the relay's and the workers' maintenance threads.
  auto db = db::open(
      config.database_url,
      {.pool_size = config.handler_threads + config.workers + 4,
       .statement_timeout = std::chrono::seconds(config.database_statement_timeout_seconds)});
  if (!db) return report(db.error(), "cannot open the database");

  metrics::Registry metrics;
  db::Database& database = **db;
  auto brokers = open_brokers(config, metrics);
  if (!brokers) return report(brokers.error(), "cannot use the broker");
  broker::EventBus& bus = *brokers->bus;
  SystemClock clock;
  const ApplicationOptions options{.identity = identity_options(config), .brokers = &*brokers};
  Application app(config, database, bus, clock, metrics, options);
  if (auto s = app.start(); !s) return report(s.error(), "cannot load token revocations");
  // Closed only now that the application holds connections of its own: closing SQLite's last
  // connection checkpoints the write-ahead log, which on a fresh data directory cost two
  // fdatasyncs on the way to ready; the application's connections checkpoint it later instead.
  owner->reset();

  Api api(
      app.routes(), metrics, &app.identity().authenticator(),
      ApiOptions{config.web_root, config.allowed_origins,
                 [&app](const http::Request& req, const Error& e) { app.record_denial(req, e); }});

  http::Server server(server_options(config), api);
  metrics.gauge("atrium_http_connections", "Open HTTP connections", [&server] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(server.active_connections())}};
  });
  if (auto s = server.start(); !s) return report(s.error(), "cannot start the server");

  const auto ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log::info("listening", {{"address", config.listen_host + ":" + std::to_string(server.port())},
                          {"port", server.port()},
                          {"env", config.production() ? "production" : "development"},
                          {"database", database.dialect()},
                          {"broker", brokers->distributed ? "rabbitmq" : "embedded"},
                          {"ready_ms", ready_ms}});
  log::flush();  // operators and scripts wait for this line

  int sig = wait_for_signal();
  log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.stop(std::chrono::seconds(10));
  app.stop();
  log::info("stopped");
  log::flush();
  return 0;
}

int worker(Config config) {
  const auto started = std::chrono::steady_clock::now();
  if (auto s = resolve_secrets(config); !s) return report(s.error(), "configuration refused");
  if (config.broker_url == "embedded") {
    log::error(
        "atrium worker needs a shared broker (ATRIUM_BROKER_URL=amqp://…); in embedded "
        "mode `atrium serve` runs the tasks itself");
    return 2;
  }
  // Task workers, and the relay's and the workers' maintenance threads. The schema is `serve`'s
  // (or `atrium migrate`'s) to change; until it exists, claims fail and messages wait.
  auto db = db::open(
      config.database_url,
      {.pool_size = config.workers + 4,
       .statement_timeout = std::chrono::seconds(config.database_statement_timeout_seconds)});
  if (!db) return report(db.error(), "cannot open the database");
  db::Database& database = **db;
  metrics::Registry metrics;
  auto brokers = open_brokers(config, metrics);
  if (!brokers) return report(brokers.error(), "cannot use the broker");
  SystemClock clock;
  TaskRuntime tasks(config, database, *brokers->bus, clock, metrics, brokers->queue.get(),
                    brokers->dead_letters);

  // Health and metrics only: no API, no console, no credentials.
  http::Router router;
  add_health_routes(router, metrics, readiness_checks(database, tasks, *brokers));
  Api api(std::move(router), metrics, nullptr, ApiOptions{"", {}});
  http::ServerOptions options = server_options(config);
  options.handler_threads = 1;
  http::Server server(options, api);
  tasks.start();
  if (auto s = server.start(); !s) return report(s.error(), "cannot start the server");
  log::info("worker ready", {{"address", config.listen_host + ":" + std::to_string(server.port())},
                             {"port", server.port()},
                             {"workers", config.workers},
                             {"database", database.dialect()},
                             {"ready_ms", std::chrono::duration<double, std::milli>(
                                              std::chrono::steady_clock::now() - started)
                                              .count()}});
  log::flush();

  int sig = wait_for_signal();
  log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // Running tasks are stopped and given back to the queue (or recorded, if they finished).
  tasks.stop();
  server.stop(std::chrono::seconds(5));
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
                              command_identity_options(config));
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
                              command_identity_options(config));
  auto user = identity.service().create_superadmin(lowered, *password);
  if (!user) return report(user.error(), "cannot create the super admin");
  log::info("super admin ready", {{"user", user->id}, {"email", user->email}});
  std::cout << user->id << "\n";
  return 0;
}

}  // namespace atrium::app
