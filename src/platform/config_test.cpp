#include "platform/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "support/temp_dir.hpp"

namespace atrium {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  std::function<std::optional<std::string>(const std::string&)> fn() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
};

Result<Config> load(const Env& env, std::map<std::string, std::string> flags = {},
                    std::string file = {}) {
  return load_config(ConfigSources{env.fn(), std::move(file), std::move(flags)});
}

TEST(Config, DefaultsFollowDesign) {
  Env env;
  auto c = load(env);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->database_url, "sqlite://./data/atrium.db");
  EXPECT_EQ(c->broker_url, "embedded");
  EXPECT_EQ(c->broker_prefix, "atrium");
  EXPECT_EQ(c->task_republish_after_seconds, 300);
  EXPECT_FALSE(c->production());
  EXPECT_EQ(c->max_body_bytes, 1u << 20);
  EXPECT_GE(c->workers, 1);
}

TEST(Config, EnvironmentThenFlagsOverride) {
  Env env{{{"ATRIUM_LISTEN", "0.0.0.0:9000"}, {"ATRIUM_DATA_DIR", "/tmp/x"}}};
  auto c = load(env, {{"listen", "127.0.0.1:0"}});
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 0);
  EXPECT_EQ(c->database_url, "sqlite:///tmp/x/atrium.db");
}

TEST(Config, InvalidValuesNameTheSetting) {
  struct Case {
    const char* var;
    const char* value;
  } cases[] = {{"ATRIUM_LISTEN", "nonsense"},
               {"ATRIUM_LISTEN", "1.2.3.4:70000"},
               {"ATRIUM_DATABASE_URL", "mysql://x"},
               {"ATRIUM_BROKER_URL", "redis://x"},
               {"ATRIUM_BROKER_PREFIX", "has space"},
               {"ATRIUM_TASK_REPUBLISH_AFTER", "0"},
               {"ATRIUM_ENV", "staging"},
               {"ATRIUM_JWT_KEYS", "nokid"},
               {"ATRIUM_JWT_KEYS", "a:x,a:y"},
               {"ATRIUM_DATA_KEY", "c2hvcnQ="},
               {"ATRIUM_LLM_KEYS", "[1]"},
               {"ATRIUM_WORKERS", "-1"},
               {"ATRIUM_LOG_LEVEL", "loud"},
               {"ATRIUM_ALLOWED_ORIGINS", "example.com"},
               {"ATRIUM_MAX_BODY_BYTES", "12abc"},
               {"ATRIUM_DATABASE_MIGRATION_URL", "mysql://x"},
               {"ATRIUM_DATABASE_STATEMENT_TIMEOUT", "0"}};
  for (const auto& tc : cases) {
    Env env{{{tc.var, tc.value}}};
    auto c = load(env);
    ASSERT_FALSE(c) << tc.var << "=" << tc.value;
    EXPECT_NE(c.error().detail.find(tc.var), std::string::npos) << c.error().detail;
  }
  auto bad_flag = load(Env{}, {{"workers", "many"}});
  ASSERT_FALSE(bad_flag);
  EXPECT_NE(bad_flag.error().detail.find("--workers"), std::string::npos);
}

TEST(Config, TaskSettings) {
  auto defaults = load(Env{{{"ATRIUM_WORKERS", "6"}}});
  ASSERT_TRUE(defaults) << defaults.error().detail;
  EXPECT_EQ(defaults->task_lease_seconds, 30);
  EXPECT_EQ(defaults->task_max_attempts, 3);
  EXPECT_EQ(defaults->tenant_max_running, 3);  // half the workers
  EXPECT_EQ(defaults->tenant_max_queued, 10000);
  EXPECT_EQ(load(Env{{{"ATRIUM_WORKERS", "1"}}})->tenant_max_running, 1);

  Env env{{{"ATRIUM_TASK_LEASE", "5"},
           {"ATRIUM_TASK_TIMEOUT", "60"},
           {"ATRIUM_TASK_MAX_ATTEMPTS", "7"},
           {"ATRIUM_TASK_RETRY_DELAY_MS", "0"},
           {"ATRIUM_TENANT_MAX_RUNNING", "4"},
           {"ATRIUM_TENANT_MAX_QUEUED", "100"}}};
  auto c = load(env);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->task_lease_seconds, 5);
  EXPECT_EQ(c->task_timeout_seconds, 60);
  EXPECT_EQ(c->task_max_attempts, 7);
  EXPECT_EQ(c->task_retry_delay_ms, 0);
  EXPECT_EQ(c->tenant_max_running, 4);
  EXPECT_EQ(c->tenant_max_queued, 100);

  EXPECT_FALSE(defaults->llm_allow_private_networks);
  EXPECT_TRUE(
      load(Env{{{"ATRIUM_LLM_ALLOW_PRIVATE_NETWORKS", "true"}}})->llm_allow_private_networks);
  EXPECT_FALSE(load(Env{{{"ATRIUM_LLM_ALLOW_PRIVATE_NETWORKS", "maybe"}}}));

  for (const char* var :
       {"ATRIUM_TASK_LEASE", "ATRIUM_TASK_MAX_ATTEMPTS", "ATRIUM_TENANT_MAX_QUEUED"}) {
    auto bad = load(Env{{{var, "0"}}});
    ASSERT_FALSE(bad) << var;
    EXPECT_NE(bad.error().detail.find(var), std::string::npos);
  }
}

TEST(Config, HashPriorityIsANicenessOrIdle) {
  auto defaults = load(Env{});
  ASSERT_TRUE(defaults) << defaults.error().detail;
  EXPECT_EQ(defaults->hash_nice, 10);
  EXPECT_FALSE(defaults->hash_idle);
  auto idle = load(Env{{{"ATRIUM_HASH_NICE", "idle"}}});
  ASSERT_TRUE(idle) << idle.error().detail;
  EXPECT_TRUE(idle->hash_idle);
  auto five = load(Env{{{"ATRIUM_HASH_NICE", "5"}}});
  ASSERT_TRUE(five) << five.error().detail;
  EXPECT_EQ(five->hash_nice, 5);
  EXPECT_FALSE(five->hash_idle);
  for (const char* bad : {"20", "-1", "idler", ""}) {
    auto c = load(Env{{{"ATRIUM_HASH_NICE", bad}}});
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().detail.find("ATRIUM_HASH_NICE"), std::string::npos);
  }
}

TEST(Config, MigrationUrlDefaultsToTheDatabaseUrl) {
  auto plain = load(Env{{{"ATRIUM_DATABASE_URL", "postgresql://app@db/atrium"}}});
  ASSERT_TRUE(plain) << plain.error().detail;
  EXPECT_EQ(plain->migration_url(), "postgresql://app@db/atrium");
  EXPECT_EQ(plain->database_statement_timeout_seconds, 10);

  auto split = load(Env{{{"ATRIUM_DATABASE_URL", "postgresql://app@db/atrium"},
                         {"ATRIUM_DATABASE_MIGRATION_URL", "postgresql://owner@db/atrium"}}});
  ASSERT_TRUE(split) << split.error().detail;
  EXPECT_EQ(split->database_url, "postgresql://app@db/atrium");
  EXPECT_EQ(split->migration_url(), "postgresql://owner@db/atrium");

  auto mixed = load(Env{{{"ATRIUM_DATABASE_MIGRATION_URL", "postgresql://owner@db/atrium"}}});
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().detail.find("ATRIUM_DATABASE_MIGRATION_URL"), std::string::npos);
}

TEST(Config, SecretsFromFiles) {
  testing::TempDir dir;
  auto file = dir.path() / "jwt";
  std::ofstream(file) << "k1:0123456789abcdef0123456789abcdef\n";
  Env env{{{"ATRIUM_JWT_KEYS_FILE", file.string()}}};
  auto c = load(env);
  ASSERT_TRUE(c) << c.error().detail;
  ASSERT_EQ(c->jwt_keys.size(), 1u);
  EXPECT_EQ(c->jwt_keys[0].kid, "k1");
  EXPECT_EQ(c->jwt_keys[0].secret, "0123456789abcdef0123456789abcdef");

  Env both{{{"ATRIUM_JWT_KEYS_FILE", file.string()}, {"ATRIUM_JWT_KEYS", "a:b"}}};
  EXPECT_FALSE(load(both));
  Env missing{{{"ATRIUM_DATA_KEY_FILE", (dir.path() / "nope").string()}}};
  auto m = load(missing);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().detail.find("ATRIUM_DATA_KEY_FILE"), std::string::npos);
}

TEST(Config, TomlFileBelowEnvironment) {
  testing::TempDir dir;
  auto file = dir.path() / "atrium.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:7000\"\nworkers = 3\n"
                         "allowed_origins = [\"https://a.example\", \"https://b.example\"]\n";
  Env env{{{"ATRIUM_WORKERS", "5"}}};
  auto c = load(env, {}, file.string());
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->listen_port, 7000);
  EXPECT_EQ(c->workers, 5);
  ASSERT_EQ(c->allowed_origins.size(), 2u);

  std::ofstream(file) << "lisen = \"x\"\n";
  auto unknown = load(Env{}, {}, file.string());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().detail.find("lisen"), std::string::npos);
}

TEST(Config, DevelopmentGeneratesKeysOnceAndReusesThem) {
  testing::TempDir dir;
  Env env{{{"ATRIUM_DATA_DIR", dir.path().string()}}};
  auto a = load(env);
  ASSERT_TRUE(a);
  ASSERT_TRUE(resolve_secrets(*a));
  ASSERT_EQ(a->jwt_keys.size(), 1u);
  EXPECT_GE(a->jwt_keys[0].secret.size(), 32u);
  EXPECT_EQ(a->data_key.size(), 32u);
  auto perms = std::filesystem::status(dir.path() / "jwt_keys").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);

  auto b = load(env);
  ASSERT_TRUE(b && resolve_secrets(*b));
  EXPECT_EQ(a->jwt_keys[0].secret, b->jwt_keys[0].secret);
  EXPECT_EQ(a->data_key, b->data_key);
}

TEST(Config, ProductionRefusesWeakOrMissingSecrets) {
  const std::string strong = "k1:Zq3v9Lr0pX7mB2nW8cT5yH1jK4dF6gA0sE9uI3oP";
  const std::string key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  struct Case {
    std::map<std::string, std::string> vars;
    const char* named;
  } cases[] = {
      {{{"ATRIUM_ENV", "production"}, {"ATRIUM_DATA_KEY", key}}, "ATRIUM_JWT_KEYS"},
      {{{"ATRIUM_ENV", "production"}, {"ATRIUM_JWT_KEYS", "k1:short"}, {"ATRIUM_DATA_KEY", key}},
       "ATRIUM_JWT_KEYS"},
      {{{"ATRIUM_ENV", "production"},
        {"ATRIUM_JWT_KEYS", "k1:development-secret-development-secret"},
        {"ATRIUM_DATA_KEY", key}},
       "ATRIUM_JWT_KEYS"},
      {{{"ATRIUM_ENV", "production"}, {"ATRIUM_JWT_KEYS", strong}}, "ATRIUM_DATA_KEY"},
      {{{"ATRIUM_ENV", "production"},
        {"ATRIUM_JWT_KEYS", strong},
        {"ATRIUM_DATA_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
       "ATRIUM_DATA_KEY"},
  };
  for (auto& tc : cases) {
    auto c = load(Env{tc.vars});
    ASSERT_TRUE(c) << c.error().detail;
    auto r = resolve_secrets(*c);
    ASSERT_FALSE(r) << tc.named;
    EXPECT_NE(r.error().detail.find(tc.named), std::string::npos) << r.error().detail;
  }
  auto ok = load(
      Env{{{"ATRIUM_ENV", "production"}, {"ATRIUM_JWT_KEYS", strong}, {"ATRIUM_DATA_KEY", key}}});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(resolve_secrets(*ok));
}

}  // namespace
}  // namespace atrium
