// The whole application on a fresh test database, behind app::Api and called without a network:
// the route table serve() builds (app::Application), real tokens from identity, real API keys.
// API-level tests of every domain use it, on every backend:
//
//   TestApp app(GetParam());
//   auto alice = app.signup("alice@example.com", "Acme");        // TENANT_ADMIN of Acme
//   auto bob = app.member(alice, "bob@example.com", "USER");      // USER of Acme, signed in
//   auto r = app.call(Method::kPost, "/api/agents", json{...}, alice.token);
//   EXPECT_EQ(r.status, 201);
//
// Password hashing uses cheap Argon2id parameters; the task workers do not run (tasks stay
// queued) unless asked. One test thread, but for call(), which may also run on several threads at
// once (concurrently(), for races).
//
// On a distributed backend (Backend::broker_url, from api_backends()) the application is a
// `serve` replica in distributed mode: RabbitMQ's event bus and task queue under a prefix of the
// test's own (ATRIUM_BROKER_PREFIX), the outbox relayed to it, the workers (when asked) a worker
// runtime as `atrium worker` runs; the queues and exchanges are deleted afterwards.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/api.hpp"
#include "app/application.hpp"
#include "app/brokers.hpp"
#include "http/message.hpp"
#include "platform/clock.hpp"
#include "support/backends.hpp"

namespace atrium::testing {

struct Reply {
  int status = 0;
  http::Headers headers;
  nlohmann::json body;  // null when the body is empty or not JSON
  std::string raw;

  std::string code() const { return body.is_object() ? body.value("code", "") : ""; }
};

// A signed-in user in one organization.
struct Actor {
  std::string token;  // access token (or API key for actors made by api_key())
  std::string refresh_token;
  std::string user_id;
  std::string email;
  std::string org_id;
};

inline const std::string kTestPassword = "correct horse battery";

// A clock that moves 1 ms at every reading (as if each step of a request took that long), and
// further when told. Revocation cut-offs and token issue times are milliseconds, so a token
// issued before a change is always older than the change, as it is with real requests.
class TickingClock final : public Clock {
 public:
  explicit TickingClock(TimePoint start) : start_(start) {}
  TimePoint now() const override {
    return start_ + std::chrono::milliseconds(ticks_.fetch_add(1) + 1) +
           TimePoint::duration(offset_.load());
  }
  void advance(TimePoint::duration d) { offset_.fetch_add(d.count()); }

 private:
  const TimePoint start_;
  mutable std::atomic<std::int64_t> ticks_{0};
  std::atomic<TimePoint::duration::rep> offset_{0};
};

struct TestAppOptions {
  bool run_workers = false;
};

class TestApp {
 public:
  explicit TestApp(const Backend& backend, TestAppOptions options = {});
  ~TestApp();

  Reply call(http::Method method, const std::string& target,
             const std::optional<nlohmann::json>& body = std::nullopt,
             const std::string& bearer = {},
             const std::vector<std::pair<std::string, std::string>>& headers = {});

  // A new user and a new organization (POST /api/auth/signup): its TENANT_ADMIN.
  Actor signup(const std::string& email, const std::string& org_name = "Acme");
  // A user holding `role` (a system or custom role name) in `admin`'s organization, signed in
  // there. The user is created (with their own organization) when the email is new.
  Actor member(const Actor& admin, const std::string& email, const std::string& role);
  // Signs `email` in to `org` (POST /api/auth/login).
  Actor login(const std::string& email, const std::string& org);
  // An API key of `creator`'s organization (POST /api/api-keys); its token is the key.
  Actor api_key(const Actor& creator, const std::vector<std::string>& permissions);
  // A global SUPER_ADMIN (created as `atrium admin create-superadmin` does), signed in to `org`
  // (null: no organization).
  Actor super_admin(const std::string& email, const std::optional<std::string>& org);

  // Applies revocations and writes API-key use (identity's maintenance, run on demand).
  void maintain();

  // SELECT COUNT(*) FROM table WHERE where, as the schema owner: across tenants, or as `tenant`
  // when one is named (organization secrets are never read across tenants).
  std::int64_t count(const std::string& table, const std::string& where = "1 = 1",
                     const std::optional<std::string>& tenant = std::nullopt);

  // The owner: the seed and the test's own inspection (a read across tenants passes
  // TxOptions::cross_tenant_read). The application runs on TestDatabase::app.
  db::Database& db() { return *t_->db; }
  app::Application& app() { return *app_; }
  TickingClock& clock() { return clock_; }
  const Config& config() const { return config_; }
  bool distributed() const { return brokers_.distributed; }

 private:
  std::unique_ptr<TestDatabase> t_;
  Config config_;
  TickingClock clock_;
  metrics::Registry metrics_;
  app::Brokers brokers_;
  std::unique_ptr<app::Application> app_;
  std::unique_ptr<app::Api> api_;
  metrics::Registry worker_metrics_;
  std::unique_ptr<app::TaskRuntime> worker_;  // distributed, with run_workers
};

// The usual API suite, parameterised over api_backends(): a fresh application per test and the
// TENANT_ADMIN of "Acme", admin@acme.example, signed in.
//
//   class AgentsApi : public atrium::testing::ApiTest {};
//   TEST_P(AgentsApi, ...) { app().call(..., admin_.token); }
//   INSTANTIATE_TEST_SUITE_P(Backends, AgentsApi, ValuesIn(api_backends()), BackendName());
class ApiTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    app_ = std::make_unique<TestApp>(GetParam());
    admin_ = app_->signup("admin@acme.example", "Acme");
  }
  TestApp& app() { return *app_; }

  std::unique_ptr<TestApp> app_;
  Actor admin_;
};

// Walks the list at `path` (no query) page by page, `limit` items a page, calling `between()`
// after each page (inserts meanwhile); the `field` of every item seen, in order. Stops after 1000.
std::vector<std::string> walk(TestApp& app, const std::string& path, const std::string& token,
                              const std::string& field, const std::function<void()>& between,
                              int limit = 2);

// Expects no value twice in `seen`, and each of `before` in it (a walk() missed nothing that was
// there when it began).
void expect_whole(const std::vector<std::string>& before, const std::vector<std::string>& seen);

// Runs the calls at once, each on its own thread, released together; their answers in order.
std::vector<Reply> concurrently(const std::vector<std::function<Reply()>>& calls);

// Expects a problem+json answer with `status` and `code`.
void expect_problem(const Reply& reply, int status, const std::string& code);

}  // namespace atrium::testing
