// PostgreSQL restarts under a running Atrium: requests fail cleanly (503 problem+json) while it is
// down and succeed again once it is back, with no restart of Atrium. Uses private servers (the
// shared ones must not be restarted under other tests).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "db/migrations.hpp"
#include "db/open.hpp"
#include "db/postgres/postgres_database.hpp"
#include "support/eventually.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::PrivateServices;

class PostgresRestart : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Like the storage backends: without the shared services' environment, PostgreSQL is absent.
    if (!std::getenv("ATRIUM_TEST_POSTGRES")) return;
    services_ = new PrivateServices({"postgres", "pgbouncer"});
    auto admin = db::postgres::AdminSession::connect(url("postgres", direct(), "postgres"));
    if (!admin) throw std::runtime_error("cannot reach the private PostgreSQL");
    if (!admin->run("CREATE DATABASE atrium OWNER atrium_owner"))
      throw std::runtime_error("cannot create the database");
  }
  static void TearDownTestSuite() {
    delete services_;
    services_ = nullptr;
  }
  void SetUp() override {
    if (!services_) GTEST_SKIP() << "PostgreSQL test services not started";
  }
  void TearDown() override {
    // Leave the server up for the next test, whatever happened.
    if (services_ && !server_up()) services_->resume("postgres");
  }

  static std::string direct() { return services_->env("ATRIUM_TEST_POSTGRES"); }
  static std::string bouncer() { return services_->env("ATRIUM_TEST_PGBOUNCER"); }
  static std::string url(const std::string& user, const std::string& hostport,
                         const std::string& db) {
    return "postgresql://" + user + "@" + hostport + "/" + db;
  }
  static bool server_up() {
    return db::postgres::AdminSession::connect(url("postgres", direct(), "postgres")).has_value();
  }

  static inline PrivateServices* services_ = nullptr;
};

TEST_F(PostgresRestart, TransactionsFailWhileDownThenRecoverByThemselves) {
  {
    auto owner = db::open(url("atrium_owner", direct(), "atrium"), {.pool_size = 1});
    ASSERT_TRUE(owner) << owner.error().detail;
    ASSERT_TRUE(db::migrate(**owner));
  }
  std::vector<std::pair<std::string, std::unique_ptr<db::Database>>> pools;
  for (const auto& [name, hostport] :
       {std::pair{"postgres", direct()}, std::pair{"pgbouncer", bouncer()}}) {
    auto db = db::open(url("atrium", hostport, "atrium"), {.pool_size = 4});
    ASSERT_TRUE(db) << name << ": " << db.error().detail;
    ASSERT_TRUE((*db)->ping()) << name;
    pools.emplace_back(name, std::move(*db));
  }

  services_->pause("postgres");
  for (auto& [name, db] : pools) {
    for (int i = 0; i < 3; ++i) {
      auto r = db->transact({.read_only = true},
                            [](db::Tx& tx) { return tx.query("SELECT COUNT(*) FROM agents"); });
      ASSERT_FALSE(r) << name << ": a transaction succeeded with the server down";
      EXPECT_EQ(r.error().code, Code::kUnavailable) << name;
    }
  }

  services_->resume("postgres");
  for (auto& [name, db] : pools) {
    EXPECT_TRUE(eventually(
        [&] {
          return db
              ->transact({.read_only = true},
                         [](db::Tx& tx) { return tx.query("SELECT COUNT(*) FROM agents"); })
              .has_value();
        },
        60s))
        << name << " did not recover";
  }
}

TEST_F(PostgresRestart, TheServerAnswers503ProblemsThenRecovers) {
  testing::TempDir dir;
  testing::Process serve(
      {ATRIUM_BINARY, "serve", "--listen", "127.0.0.1:0"},
      {{"ATRIUM_DATA_DIR", dir.path().string()},
       {"ATRIUM_WEB_ROOT", (dir.path() / "no-web").string()},
       {"ATRIUM_DATABASE_URL", url("atrium", bouncer(), "atrium")},
       {"ATRIUM_DATABASE_MIGRATION_URL", url("atrium_owner", bouncer(), "atrium")}});
  auto listening = serve.wait_for_line(
      [](const std::string& l) { return l.find(R"("msg":"listening")") != std::string::npos; },
      60s);
  ASSERT_TRUE(listening) << serve.output();
  const auto port = nlohmann::json::parse(*listening)["port"].get<std::uint16_t>();
  ASSERT_EQ(testing::request(port, "GET", "/readyz").status, 200);

  services_->pause("postgres");
  for (int i = 0; i < 3; ++i) {
    auto r = testing::request(port, "GET", "/readyz");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body["code"], "unavailable");
    EXPECT_EQ(body["status"], 503);
    EXPECT_EQ(r.body.find("postgres"), std::string::npos) << "leaks internals: " << r.body;
    EXPECT_EQ(r.body.find("5432"), std::string::npos) << "leaks internals: " << r.body;
  }

  services_->resume("postgres");
  EXPECT_TRUE(
      eventually([&] { return testing::request(port, "GET", "/readyz").status == 200; }, 60s))
      << serve.output();
  EXPECT_FALSE(serve.wait(0ms)) << "the server exited";
}

}  // namespace
}  // namespace atrium
