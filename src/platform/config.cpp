#include "platform/config.hpp"

#include <sodium.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "platform/ids.hpp"
#include "platform/secret_file.hpp"

namespace atrium {
namespace {

using Problem = std::optional<std::string>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    auto pos = s.find(sep);
    parts.push_back(trim(s.substr(0, pos)));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return parts;
}

template <class Int>
bool parse_int(std::string_view s, Int& out, Int min, Int max) {
  s = trim(s);
  Int v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

Problem set_listen(Config& c, std::string_view v) {
  v = trim(v);
  std::string_view host;
  std::string_view port;
  if (!v.empty() && v.front() == '[') {  // [::1]:8080
    auto close = v.find(']');
    if (close == std::string_view::npos || close + 1 >= v.size() || v[close + 1] != ':')
      return "expected host:port, e.g. 127.0.0.1:8080";
    host = v.substr(1, close - 1);
    port = v.substr(close + 2);
  } else {
    auto colon = v.rfind(':');
    if (colon == std::string_view::npos) return "expected host:port, e.g. 127.0.0.1:8080";
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
  }
  std::uint16_t p;
  if (!parse_int<std::uint16_t>(port, p, 0, 65535)) return "port must be 0-65535";
  c.listen_host = host.empty() ? "0.0.0.0" : std::string(host);
  c.listen_port = p;
  return std::nullopt;
}

Problem set_nonempty(std::string& field, std::string_view v) {
  v = trim(v);
  if (v.empty()) return "must not be empty";
  field = std::string(v);
  return std::nullopt;
}

Problem set_url(std::string& field, std::string_view v) {
  v = trim(v);
  if (!(v.starts_with("sqlite://") || v.starts_with("postgresql://") ||
        v.starts_with("postgres://")))
    return "expected sqlite://PATH or postgresql://user:pass@host:port/db";
  if (v.starts_with("sqlite://") && v.size() == 9) return "sqlite:// needs a file path";
  field = std::string(v);
  return std::nullopt;
}

Problem set_database_url(Config& c, std::string_view v) { return set_url(c.database_url, v); }

Problem set_database_migration_url(Config& c, std::string_view v) {
  return set_url(c.database_migration_url, v);
}

Problem set_broker_url(Config& c, std::string_view v) {
  v = trim(v);
  if (!(v == "embedded" || v.starts_with("amqp://") || v.starts_with("amqps://")))
    return "expected 'embedded' or amqp://user:pass@host:port/vhost";
  c.broker_url = std::string(v);
  return std::nullopt;
}

Problem set_broker_prefix(Config& c, std::string_view v) {
  v = trim(v);
  const bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  });
  if (!ok) return "expected 1 to 64 letters, digits, '-', '_' or '.'";
  c.broker_prefix = std::string(v);
  return std::nullopt;
}

Problem set_env(Config& c, std::string_view v) {
  v = trim(v);
  if (v == "development") {
    c.env = Config::Env::kDevelopment;
  } else if (v == "production") {
    c.env = Config::Env::kProduction;
  } else {
    return "expected 'development' or 'production'";
  }
  return std::nullopt;
}

Problem set_jwt_keys(Config& c, std::string_view v) {
  std::vector<JwtKey> keys;
  for (auto part : split(trim(v), ',')) {
    auto colon = part.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == part.size())
      return "expected kid:secret[,kid:secret...]";
    JwtKey key{std::string(part.substr(0, colon)), std::string(part.substr(colon + 1))};
    bool kid_ok = key.kid.size() <= 64 && std::all_of(key.kid.begin(), key.kid.end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
                           ch == '.';
                  });
    if (!kid_ok) return "a kid may hold only letters, digits, '-', '_' and '.' (64 at most)";
    for (const auto& k : keys)
      if (k.kid == key.kid) return "duplicate kid '" + key.kid + "'";
    keys.push_back(std::move(key));
  }
  c.jwt_keys = std::move(keys);
  return std::nullopt;
}

std::optional<std::string> decode_base64(std::string_view text) {
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                      sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
    std::string out(text.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, nullptr, variant) == 0) {
      out.resize(len);
      return out;
    }
  }
  return std::nullopt;
}

Problem set_data_key(Config& c, std::string_view v) {
  auto raw = decode_base64(trim(v));
  if (!raw || raw->size() != 32) return "expected 32 bytes, base64-encoded";
  c.data_key = std::move(*raw);
  return std::nullopt;
}

Problem set_llm_keys(Config& c, std::string_view v) {
  auto parsed = nlohmann::json::parse(v, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return "expected a JSON object";
  for (auto& [name, value] : parsed.items()) {
    if (!value.is_string()) return "value of '" + name + "' must be a string";
  }
  c.llm_keys = parsed.dump();
  return std::nullopt;
}

Problem set_origins(Config& c, std::string_view v) {
  std::vector<std::string> origins;
  if (!trim(v).empty()) {
    for (auto o : split(v, ',')) {
      bool scheme = o.starts_with("http://") || o.starts_with("https://");
      auto rest = o.substr(o.find("//") + 2);
      if (!scheme || rest.empty() || rest.find('/') != std::string_view::npos)
        return "expected origins like https://app.example.com, comma-separated";
      origins.emplace_back(o);
    }
  }
  c.allowed_origins = std::move(origins);
  return std::nullopt;
}

Problem set_bool(bool& field, std::string_view v) {
  v = trim(v);
  if (v == "true" || v == "1" || v == "yes") {
    field = true;
  } else if (v == "false" || v == "0" || v == "no") {
    field = false;
  } else {
    return "expected true or false";
  }
  return std::nullopt;
}

Problem set_log_level(Config& c, std::string_view v) {
  if (!log::parse_level(trim(v), c.log_level)) return "expected debug, info, warn, error or off";
  return std::nullopt;
}

template <int Min, int Max>
Problem set_int(int& field, std::string_view v) {
  if (!parse_int<int>(v, field, Min, Max))
    return "expected an integer from " + std::to_string(Min) + " to " + std::to_string(Max);
  return std::nullopt;
}

Problem set_hash_nice(Config& c, std::string_view v) {
  c.hash_idle = trim(v) == "idle";
  if (c.hash_idle) return std::nullopt;
  if (!parse_int<int>(v, c.hash_nice, 0, 19)) return "expected an integer from 0 to 19 or idle";
  return std::nullopt;
}

const std::vector<Setting> kSettings = {
    {"listen", "ATRIUM_LISTEN", false, "HTTP/WebSocket address host:port (:0 picks a free port)",
     set_listen},
    {"data_dir", "ATRIUM_DATA_DIR", false, "embedded database and generated development keys",
     [](Config& c, std::string_view v) { return set_nonempty(c.data_dir, v); }},
    {"database_url", "ATRIUM_DATABASE_URL", true, "sqlite://PATH or postgresql://…",
     set_database_url},
    {"database_migration_url", "ATRIUM_DATABASE_MIGRATION_URL", true,
     "the schema owner's URL, for migrations and the seed (default: the database URL)",
     set_database_migration_url},
    {"database_statement_timeout", "ATRIUM_DATABASE_STATEMENT_TIMEOUT", false,
     "seconds a database statement may run (PostgreSQL)",
     [](Config& c, std::string_view v) {
       return set_int<1, 3600>(c.database_statement_timeout_seconds, v);
     }},
    {"broker_url", "ATRIUM_BROKER_URL", true, "'embedded' or amqp://user:pass@host:port/vhost",
     set_broker_url},
    {"broker_prefix", "ATRIUM_BROKER_PREFIX", false,
     "names of the broker's queues and exchanges (<prefix>.tasks, <prefix>.events)",
     set_broker_prefix},
    {"env", "ATRIUM_ENV", false, "development | production (production enforces real secrets)",
     set_env},
    {"jwt_keys", "ATRIUM_JWT_KEYS", true, "kid:secret,kid:secret — the first signs, all verify",
     set_jwt_keys},
    {"data_key", "ATRIUM_DATA_KEY", true, "32-byte key (base64) sealing organization secrets",
     set_data_key},
    {"llm_keys", "ATRIUM_LLM_KEYS", true,
     "JSON object of platform LLM keys, e.g. {\"openai\":\"…\"}", set_llm_keys},
    {"llm_allow_private_networks", "ATRIUM_LLM_ALLOW_PRIVATE_NETWORKS", false,
     "let agents' base_url reach loopback and private networks (self-hosted models)",
     [](Config& c, std::string_view v) { return set_bool(c.llm_allow_private_networks, v); }},
    {"web_root", "ATRIUM_WEB_ROOT", false, "directory of the console's built files",
     [](Config& c, std::string_view v) { return set_nonempty(c.web_root, v); }},
    {"allowed_origins", "ATRIUM_ALLOWED_ORIGINS", false,
     "browser origins allowed for CORS and WebSocket, comma-separated", set_origins},
    {"workers", "ATRIUM_WORKERS", false, "in-process task workers (0 = cores)",
     [](Config& c, std::string_view v) { return set_int<0, 1024>(c.workers, v); }},
    {"log_level", "ATRIUM_LOG_LEVEL", false, "debug | info | warn | error | off", set_log_level},
    {"max_body_bytes", "ATRIUM_MAX_BODY_BYTES", false, "largest accepted request body",
     [](Config& c, std::string_view v) -> Problem {
       int n;
       if (auto p = set_int<1024, 64 << 20>(n, v)) return p;
       c.max_body_bytes = static_cast<std::size_t>(n);
       return std::nullopt;
     }},
    {"max_connections", "ATRIUM_MAX_CONNECTIONS", false, "concurrent connections accepted",
     [](Config& c, std::string_view v) { return set_int<1, 1000000>(c.max_connections, v); }},
    {"header_timeout", "ATRIUM_HEADER_TIMEOUT", false, "seconds to receive a request's headers",
     [](Config& c, std::string_view v) { return set_int<1, 300>(c.header_timeout_seconds, v); }},
    {"idle_timeout", "ATRIUM_IDLE_TIMEOUT", false, "seconds a keep-alive connection may idle",
     [](Config& c, std::string_view v) { return set_int<1, 3600>(c.idle_timeout_seconds, v); }},
    {"io_threads", "ATRIUM_IO_THREADS", false, "threads running the network event loop",
     [](Config& c, std::string_view v) { return set_int<1, 64>(c.io_threads, v); }},
    {"ws_connections_per_tenant", "ATRIUM_WS_CONNECTIONS_PER_TENANT", false,
     "WebSocket connections one organization may hold on one replica",
     [](Config& c, std::string_view v) {
       return set_int<1, 1000000>(c.ws_connections_per_tenant, v);
     }},
    {"handler_threads", "ATRIUM_HANDLER_THREADS", false,
     "threads running handlers that may block (database, hashing)",
     [](Config& c, std::string_view v) { return set_int<1, 256>(c.handler_threads, v); }},
    {"task_lease", "ATRIUM_TASK_LEASE", false,
     "seconds a worker's claim on a task lasts unrenewed (a dead worker's tasks rerun after it)",
     [](Config& c, std::string_view v) { return set_int<1, 3600>(c.task_lease_seconds, v); }},
    {"task_timeout", "ATRIUM_TASK_TIMEOUT", false, "seconds a task may run before it fails",
     [](Config& c, std::string_view v) { return set_int<1, 86400>(c.task_timeout_seconds, v); }},
    {"task_max_attempts", "ATRIUM_TASK_MAX_ATTEMPTS", false, "attempts per task, retries included",
     [](Config& c, std::string_view v) { return set_int<1, 100>(c.task_max_attempts, v); }},
    {"task_retry_delay_ms", "ATRIUM_TASK_RETRY_DELAY_MS", false,
     "milliseconds before a task's first retry (doubling, at most 5 minutes)",
     [](Config& c, std::string_view v) { return set_int<0, 300000>(c.task_retry_delay_ms, v); }},
    {"task_republish_after", "ATRIUM_TASK_REPUBLISH_AFTER", false,
     "seconds a due task may stay queued before its queue message is sent again (lost messages)",
     [](Config& c, std::string_view v) {
       return set_int<1, 86400>(c.task_republish_after_seconds, v);
     }},
    {"tenant_max_running", "ATRIUM_TENANT_MAX_RUNNING", false,
     "tasks of one organization running at once (0 = half the workers, at least 1)",
     [](Config& c, std::string_view v) { return set_int<0, 100000>(c.tenant_max_running, v); }},
    {"tenant_max_queued", "ATRIUM_TENANT_MAX_QUEUED", false,
     "queued tasks one organization may have (429 beyond)",
     [](Config& c, std::string_view v) { return set_int<1, 10000000>(c.tenant_max_queued, v); }},
    {"hash_threads", "ATRIUM_HASH_THREADS", false,
     "threads hashing passwords (Argon2id, 19 MiB each; 0 = cores - 1, at least 1)",
     [](Config& c, std::string_view v) { return set_int<0, 64>(c.hash_threads, v); }},
    {"hash_queue", "ATRIUM_HASH_QUEUE", false,
     "sign-ins that may wait for a hashing thread (503 beyond)",
     [](Config& c, std::string_view v) { return set_int<1, 1024>(c.hash_queue, v); }},
    {"hash_nice", "ATRIUM_HASH_NICE", false,
     "CPU niceness of the hashing threads, 0-19 (higher yields more to other requests), or idle "
     "(hash only on CPU time nothing else wants)",
     set_hash_nice},
};

const Setting* find_setting(std::string_view key) {
  for (const auto& s : kSettings)
    if (s.key == key) return &s;
  return nullptr;
}

Result<void> apply(Config& c, const Setting& s, std::string_view source, std::string_view value) {
  if (auto problem = s.apply(c, value)) {
    return fail(Error::invalid(std::string(source) + ": " + *problem));
  }
  return {};
}

Result<void> apply_toml(Config& c, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return fail(Error::invalid("config file " + path + ": " + std::string(e.description())));
  }
  for (auto&& [key, node] : table) {
    std::string k(key.str());
    const Setting* s = find_setting(k);
    if (!s) return fail(Error::invalid("config file " + path + ": unknown setting '" + k + "'"));
    std::string value;
    if (auto str = node.value<std::string>()) {
      value = *str;
    } else if (auto num = node.value<std::int64_t>()) {
      value = std::to_string(*num);
    } else if (auto b = node.value<bool>()) {
      value = *b ? "true" : "false";
    } else if (auto arr = node.as_array()) {
      for (auto&& item : *arr) {
        if (!value.empty()) value += ",";
        value += item.value<std::string>().value_or("");
      }
    } else {
      return fail(Error::invalid("config file " + path + ": '" + k + "' has an unsupported type"));
    }
    if (auto r = apply(c, *s, "config file " + path + ": " + k, value); !r) return r;
  }
  return {};
}

}  // namespace

const std::vector<Setting>& settings() { return kSettings; }

Result<Config> load_config(const ConfigSources& sources) {
  Config c;
  c.workers = 0;
  auto getenv = sources.getenv ? sources.getenv : [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };

  if (!sources.config_file.empty()) {
    if (auto r = apply_toml(c, sources.config_file); !r) return fail(r.error());
  }

  for (const auto& s : kSettings) {
    const std::string env(s.env);
    auto direct = getenv(env);
    std::optional<std::string> from_file;
    if (s.secret) {
      if (auto file = getenv(env + "_FILE")) {
        if (direct) return fail(Error::invalid(env + " and " + env + "_FILE are both set"));
        from_file = read_secret_file(*file);
        if (!from_file) return fail(Error::invalid(env + "_FILE: cannot read " + *file));
      }
    }
    if (direct) {
      if (auto r = apply(c, s, env, *direct); !r) return fail(r.error());
    } else if (from_file) {
      if (auto r = apply(c, s, env + "_FILE", *from_file); !r) return fail(r.error());
    }
  }

  for (const auto& [key, value] : sources.flags) {
    const Setting* s = find_setting(key);
    if (!s || s->secret) return fail(Error::invalid("unknown flag --" + key));
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (auto r = apply(c, *s, flag, value); !r) return fail(r.error());
  }

  if (c.database_url.empty()) {
    c.database_url = "sqlite://" + (std::filesystem::path(c.data_dir) / "atrium.db").string();
  }
  if (!c.database_migration_url.empty() &&
      c.database_migration_url.starts_with("sqlite://") != c.database_url.starts_with("sqlite://"))
    return fail(
        Error::invalid("ATRIUM_DATABASE_MIGRATION_URL: must name the same kind of database as "
                       "ATRIUM_DATABASE_URL"));
  if (c.workers == 0)
    c.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (c.tenant_max_running == 0) c.tenant_max_running = std::max(1, c.workers / 2);
  // Never every core: a login storm would then compete with the I/O thread for each of them.
  if (c.hash_threads == 0)
    c.hash_threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()) - 1);
  return c;
}

namespace {

constexpr std::size_t kMinSecretBytes = 32;

bool looks_like_example(std::string_view secret) {
  for (std::string_view weak : {"secret", "changeme", "development", "example", "password"}) {
    if (secret.find(weak) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

Result<void> resolve_secrets(Config& c) {
  if (c.production()) {
    if (c.jwt_keys.empty()) return fail(Error::invalid("ATRIUM_JWT_KEYS: required in production"));
    for (const auto& k : c.jwt_keys) {
      if (k.secret.size() < kMinSecretBytes || looks_like_example(k.secret))
        return fail(Error::invalid("ATRIUM_JWT_KEYS: key '" + k.kid +
                                   "' must be a random secret of at least 32 characters"));
    }
    if (c.data_key.empty()) return fail(Error::invalid("ATRIUM_DATA_KEY: required in production"));
    if (std::all_of(c.data_key.begin(), c.data_key.end(),
                    [&](char ch) { return ch == c.data_key[0]; }))
      return fail(Error::invalid("ATRIUM_DATA_KEY: not a random key"));
    return {};
  }

  const std::filesystem::path dir(c.data_dir);
  if (c.jwt_keys.empty()) {
    auto text = load_or_create_secret(
        dir / "jwt_keys", [] { return "dev-" + random_token(6) + ":" + random_token(48); });
    if (!text) return fail(text.error());
    if (auto problem = set_jwt_keys(c, *text))
      return fail(Error::invalid((dir / "jwt_keys").string() + ": " + *problem));
  }
  if (c.data_key.empty()) {
    auto text = load_or_create_secret(dir / "data_key", [] {
      std::string raw = random_bytes(32);
      std::string b64(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                        raw.size(), sodium_base64_VARIANT_ORIGINAL);
      b64.resize(std::char_traits<char>::length(b64.c_str()));
      sodium_memzero(raw.data(), raw.size());
      return b64;
    });
    if (!text) return fail(text.error());
    if (auto problem = set_data_key(c, *text))
      return fail(Error::invalid((dir / "data_key").string() + ": " + *problem));
  }
  return {};
}

}  // namespace atrium
