// The built `atrium` binary, as an operator runs it.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

const std::string kBinary = ATRIUM_BINARY;

std::optional<nlohmann::json> json_line(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Starts `atrium serve` on a free port; returns the port from its "listening" line.
std::uint16_t start_serve(Process& p) {
  auto line = p.wait_for_line(
      [](const std::string& l) {
        auto j = json_line(l);
        return j && (*j)["msg"] == "listening";
      },
      30s);
  if (!line) throw std::runtime_error("serve did not start: " + p.output());
  return (*json_line(*line))["port"].get<std::uint16_t>();
}

TEST(Binary, VersionAndHelp) {
  auto v = testing::run({kBinary, "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("atrium "), std::string::npos);
  auto h = testing::run({kBinary, "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* word : {"serve", "migrate", "seed", "version", "--listen", "--config"})
    EXPECT_NE(h.output.find(word), std::string::npos) << word;
  auto sub = testing::run({kBinary, "serve", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  auto none = testing::run({kBinary});
  EXPECT_NE(none.exit_code, 0);
}

TEST(Binary, InvalidConfigurationIsRefusedNamingTheSetting) {
  TempDir dir;
  auto r = testing::run({kBinary, "serve"}, {{"ATRIUM_LISTEN", "not-an-address"},
                                             {"ATRIUM_DATA_DIR", dir.path().string()}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("ATRIUM_LISTEN"), std::string::npos) << r.output;
  auto flag = testing::run({kBinary, "serve", "--workers", "lots"},
                           {{"ATRIUM_DATA_DIR", dir.path().string()}});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.output.find("--workers"), std::string::npos) << flag.output;
}

TEST(Binary, ProductionRefusesToStartWithoutKeys) {
  TempDir dir;
  auto r = testing::run({kBinary, "serve", "--listen", "127.0.0.1:0"},
                        {{"ATRIUM_ENV", "production"}, {"ATRIUM_DATA_DIR", dir.path().string()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("ATRIUM_JWT_KEYS"), std::string::npos) << r.output;
}

TEST(Binary, MigrateAndSeedAreIdempotent) {
  TempDir dir;
  std::map<std::string, std::string> env{{"ATRIUM_DATA_DIR", dir.path().string()}};
  auto m1 = testing::run({kBinary, "migrate"}, env);
  ASSERT_EQ(m1.exit_code, 0) << m1.output;
  EXPECT_NE(m1.output.find("0001_init.sql"), std::string::npos);
  auto m2 = testing::run({kBinary, "migrate"}, env);
  ASSERT_EQ(m2.exit_code, 0) << m2.output;
  EXPECT_NE(m2.output.find("\"applied\":[]"), std::string::npos) << m2.output;
  auto s1 = testing::run({kBinary, "seed"}, env);
  ASSERT_EQ(s1.exit_code, 0) << s1.output;
  EXPECT_NE(s1.output.find("\"roles_added\":3"), std::string::npos) << s1.output;
  auto s2 = testing::run({kBinary, "seed"}, env);
  ASSERT_EQ(s2.exit_code, 0);
  EXPECT_NE(s2.output.find("\"roles_added\":0"), std::string::npos) << s2.output;
}

TEST(Binary, ServesHealthAndStopsGracefullyOnSigterm) {
  TempDir dir;
  Process p({kBinary, "serve", "--listen", "127.0.0.1:0"},
            {{"ATRIUM_DATA_DIR", dir.path().string()},
             {"ATRIUM_WEB_ROOT", (dir.path() / "no-web").string()}});
  auto port = start_serve(p);
  auto r = testing::request(port, "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), nlohmann::json({{"status", "ok"}}));
  auto ready = testing::request(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);

  // One JSON access-log line per request, with the fields operators search by.
  auto logged = p.wait_for_line(
      [](const std::string& l) {
        auto j = json_line(l);
        return j && (*j)["msg"] == "request" && (*j)["route"] == "/healthz";
      },
      10s);
  ASSERT_TRUE(logged) << p.output();
  auto entry = *json_line(*logged);
  for (const char* field : {"request_id", "method", "route", "status", "latency_ms", "ts", "level"})
    EXPECT_TRUE(entry.contains(field)) << field;

  p.signal(SIGTERM);
  auto code = p.wait(15s);
  ASSERT_TRUE(code) << "did not stop";
  EXPECT_EQ(*code, 0) << p.output();
  EXPECT_NE(p.output().find("\"msg\":\"stopped\""), std::string::npos);
}

}  // namespace
}  // namespace atrium
