// Configuration (DESIGN.md §8): defaults < TOML file (--config) < ATRIUM_* environment (a secret
// may come from ATRIUM_X_FILE instead) < command-line flags. Parsed once into an immutable value;
// an invalid value is refused with a message naming the setting as the operator wrote it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/error.hpp"
#include "platform/log.hpp"

namespace atrium {

struct JwtKey {
  std::string kid;
  std::string secret;
};

struct Config {
  enum class Env { kDevelopment, kProduction };

  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string data_dir = "./data";
  std::string database_url;  // empty until resolved: sqlite://<data_dir>/atrium.db
  // The role owning the schema, for migrations and the seed; empty = database_url. On
  // PostgreSQL the application then connects as a role that owns nothing (docs/POSTGRESQL.md).
  std::string database_migration_url;
  int database_statement_timeout_seconds = 10;
  std::string broker_url = "embedded";
  // Names of the broker's queues and exchanges (<prefix>.tasks, <prefix>.events, …): deployments
  // (or tests) sharing one RabbitMQ virtual host keep apart by choosing their own.
  std::string broker_prefix = "atrium";
  Env env = Env::kDevelopment;
  std::vector<JwtKey> jwt_keys;             // first signs, all verify
  std::string data_key;                     // 32 raw bytes once resolved
  std::string llm_keys = "{}";              // JSON object, e.g. {"openai":"…"}
  bool llm_allow_private_networks = false;  // agents' base_url may lead to loopback/private hosts
  std::string web_root = "web/dist";
  std::vector<std::string> allowed_origins;  // empty = same origin only
  int workers = 0;                           // 0 = number of cores
  log::Level log_level = log::Level::kInfo;

  // HTTP server limits (not named in DESIGN.md; documented in README.md).
  std::size_t max_body_bytes = 1 << 20;
  int max_connections = 10000;
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int io_threads = 1;
  int handler_threads = 16;  // pool that runs handlers which may block (DB, hashing)
  int ws_connections_per_tenant = 1000;

  // Tasks (documented in README.md).
  int task_lease_seconds = 30;     // a claim not renewed for this long is recovered
  int task_timeout_seconds = 600;  // a run longer than this fails
  int task_max_attempts = 3;       // retries included
  int task_retry_delay_ms = 1000;  // before the first retry; doubles each time
  // A task due and queued this long without a new queue message gets one again (the broker lost
  // the last, e.g. a purged queue); a duplicate is harmless (claims are conditional).
  int task_republish_after_seconds = 300;
  int tenant_max_running = 0;     // tasks of one organization at once; 0 = half the workers
  int tenant_max_queued = 10000;  // queued tasks of one organization; 429 beyond

  // Password hashing (identity/): its own bounded pool, so a login storm cannot take every
  // handler thread; beyond the queue, sign-ins get 503 + Retry-After.
  int hash_threads = 0;    // 0 = number of cores - 1 (at least 1)
  int hash_queue = 16;     // sign-ins that may wait for a hashing thread
  int hash_nice = 10;      // CPU niceness of the hashing threads (0 = as the rest)
  bool hash_idle = false;  // ATRIUM_HASH_NICE=idle: SCHED_IDLE instead of a niceness

  bool production() const { return env == Env::kProduction; }
  const std::string& migration_url() const {
    return database_migration_url.empty() ? database_url : database_migration_url;
  }
};

// One configurable setting. `key` is the TOML key and the flag (`--key-with-dashes`).
struct Setting {
  std::string_view key;
  std::string_view env;
  bool secret;  // may be given as <env>_FILE; never accepted as a flag
  std::string_view help;
  // Parses `value` into the config; returns a message saying what was expected on failure.
  std::optional<std::string> (*apply)(Config&, std::string_view value);
};

const std::vector<Setting>& settings();

struct ConfigSources {
  // Environment lookup; tests inject a map. Defaults to the process environment.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string config_file;                   // TOML, optional
  std::map<std::string, std::string> flags;  // setting key → value
};

// Loads and validates; the error's detail names the offending setting.
Result<Config> load_config(const ConfigSources& sources);

// Development: generates missing JWT and data keys once under data_dir (mode 0600) and reuses
// them on later starts. Production: refuses missing, short or example keys.
Result<void> resolve_secrets(Config& config);

}  // namespace atrium
