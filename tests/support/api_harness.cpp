#include "support/api_harness.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <stdexcept>
#include <thread>

#include "access/seed.hpp"
#include "broker/rabbitmq/rabbit_task_queue.hpp"
#include "identity/identity.hpp"
#include "platform/ids.hpp"
#include "tenancy/store.hpp"

namespace atrium::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Config test_config() {
  Config c;
  c.jwt_keys = {{"test-1", "a-test-signing-key-that-is-long-enough-000000"}};
  c.data_key = std::string(32, 'k');
  c.workers = 2;
  c.tenant_max_running = 1;
  c.hash_threads = 2;
  return c;
}

Config test_config(const Backend& backend) {
  Config c = test_config();
  if (!backend.broker_url.empty()) {
    c.broker_url = backend.broker_url;
    c.broker_prefix = "test." + new_id();
  }
  return c;
}

app::ApplicationOptions test_options(const TestAppOptions& options) {
  app::ApplicationOptions o;
  o.identity.password = {1, 64 * 1024};  // cheap Argon2id; the defaults are tested in identity/
  o.identity.hashing = {.threads = 2, .queue_limit = 64};
  o.identity.throttle = {.per_account = 1000, .per_address = 100000, .window = 300s};
  o.identity.maintenance_interval = 0ms;  // tests call maintain()
  o.run_workers = options.run_workers;
  return o;
}

[[noreturn]] void die(const std::string& what, const Reply& r) {
  throw std::runtime_error(what + ": " + std::to_string(r.status) + " " + r.raw);
}

}  // namespace

TestApp::TestApp(const Backend& backend, TestAppOptions options)
    : t_(backend.create_migrated()),
      config_(test_config(backend)),
      clock_(TimePoint(std::chrono::system_clock::now())) {
  if (auto s = access::seed(db()); !s) throw std::runtime_error("seed: " + s.error().detail);
  auto brokers = app::open_brokers(config_, metrics_);
  if (!brokers) throw std::runtime_error("brokers: " + brokers.error().detail);
  brokers_ = std::move(*brokers);
  // As `atrium serve` connects: on PostgreSQL the application role, under row-level security.
  app::ApplicationOptions o = test_options(options);
  o.brokers = &brokers_;
  // A distributed replica relays its outbox to RabbitMQ whether or not workers run somewhere.
  if (brokers_.distributed) o.run_workers = true;
  app_ = std::make_unique<app::Application>(config_, *t_->app, *brokers_.bus, clock_, metrics_, o);
  if (auto s = app_->start(); !s) throw std::runtime_error("start: " + s.error().detail);
  if (brokers_.distributed) {
    if (options.run_workers) {
      worker_ = std::make_unique<app::TaskRuntime>(config_, *t_->app, *brokers_.bus, clock_,
                                                   worker_metrics_, brokers_.queue.get(),
                                                   brokers_.dead_letters);
      worker_->start();
    }
    // Every test of the mode runs against a broker that is there: the topology declared, both
    // event connections up.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      const bool queue_up = brokers_.queue->ping().has_value();
      bool events_up = true;
      for (const auto& check : brokers_.readiness) events_up = events_up && check.check();
      if (queue_up && events_up) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("RabbitMQ not reached at " + config_.broker_url);
      std::this_thread::sleep_for(10ms);
    }
  }
  app::Application* built = app_.get();
  api_ = std::make_unique<app::Api>(
      app_->routes(), metrics_, &app_->identity().authenticator(),
      app::ApiOptions{"/nonexistent", {}, [built](const http::Request& req, const Error& e) {
                        built->record_denial(req, e);
                      }});
}

TestApp::~TestApp() {
  api_.reset();
  worker_.reset();
  app_.reset();
  const bool distributed = brokers_.distributed;
  brokers_ = {};
  if (distributed) {
    broker::RabbitOptions o;
    o.url = config_.broker_url;
    o.prefix = config_.broker_prefix;
    if (auto removed = broker::RabbitTaskQueue::remove_topology(o); !removed)
      ADD_FAILURE() << "broker topology not removed: " << removed.error().detail;
  }
}

Reply TestApp::call(http::Method method, const std::string& target, const std::optional<json>& body,
                    const std::string& bearer,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::Request req;
  req.method = method;
  req.method_text = std::string(http::method_name(method));
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  if (body) {
    req.body = body->dump();
    req.headers.add("Content-Type", "application/json");
  }
  if (!bearer.empty()) req.headers.add("Authorization", "Bearer " + bearer);
  for (const auto& [name, value] : headers) req.headers.add(name, value);
  req.headers.add("User-Agent", "api-test");
  req.remote_ip = "10.0.0.1";
  auto res = api_->handle(req);
  // An accepted WebSocket upgrade with no connection behind it ends at once, as one whose client
  // left right after the handshake (the session leaves the realtime hub).
  if (res.websocket) res.websocket->on_close();
  Reply r{res.status, res.headers, json(), res.body};
  if (!res.body.empty()) r.body = json::parse(res.body, nullptr, false);
  if (r.body.is_discarded()) r.body = json();
  return r;
}

Actor TestApp::signup(const std::string& email, const std::string& org_name) {
  auto r = call(http::Method::kPost, "/api/auth/signup",
                json{{"email", email},
                     {"password", kTestPassword},
                     {"name", "Test " + email.substr(0, email.find('@'))},
                     {"organization_name", org_name}});
  if (r.status != 201) die("signup " + email, r);
  return Actor{r.body["access_token"], r.body["refresh_token"], r.body["user"]["id"], email,
               r.body["organization"]["id"]};
}

Actor TestApp::login(const std::string& email, const std::string& org) {
  auto r = call(http::Method::kPost, "/api/auth/login",
                json{{"email", email}, {"password", kTestPassword}, {"organization_id", org}});
  if (r.status != 200) die("login " + email, r);
  return Actor{r.body["access_token"], r.body["refresh_token"], r.body["user"]["id"], email, org};
}

Actor TestApp::member(const Actor& admin, const std::string& email, const std::string& role) {
  auto existing = db().transact({.read_only = true}, [&](db::Tx& tx) {
    return tx.query_one("SELECT id FROM users WHERE email = $1", {email});
  });
  if (!existing) throw std::runtime_error("member lookup: " + existing.error().detail);
  std::string user_id;
  if (*existing) {
    user_id = (*existing)->text(0);
  } else {
    user_id = signup(email, "Home of " + email).user_id;
  }
  auto added = db().transact({.tenant = admin.org_id}, [&](db::Tx& tx) {
    return tenancy::add_member(tx, admin.org_id, user_id, role, clock_.now());
  });
  if (!added) throw std::runtime_error("add member: " + added.error().detail);
  return login(email, admin.org_id);
}

Actor TestApp::api_key(const Actor& creator, const std::vector<std::string>& permissions) {
  auto r = call(http::Method::kPost, "/api/api-keys",
                json{{"name", "test key"}, {"permissions", permissions}}, creator.token);
  if (r.status != 201) die("api key", r);
  return Actor{r.body["key"], "", creator.user_id, creator.email, creator.org_id};
}

Actor TestApp::super_admin(const std::string& email, const std::optional<std::string>& org) {
  // As `atrium admin create-superadmin` does: with the owner's database (global memberships are
  // the owner's to write).
  identity::Identity owner(db(), nullptr, clock_, config_.jwt_keys, test_options({}).identity);
  auto user = owner.service().create_superadmin(email, kTestPassword);
  if (!user) throw std::runtime_error("create superadmin: " + user.error().detail);
  json body = {{"email", email}, {"password", kTestPassword}};
  if (org) body["organization_id"] = *org;
  auto r = call(http::Method::kPost, "/api/auth/login", body);
  if (r.status != 200) die("login super admin", r);
  return Actor{r.body["access_token"], r.body["refresh_token"], r.body["user"]["id"], email,
               org.value_or("")};
}

void TestApp::maintain() {
  if (auto m = app_->identity().maintain(); !m)
    throw std::runtime_error("maintain: " + m.error().detail);
}

std::int64_t TestApp::count(const std::string& table, const std::string& where,
                            const std::optional<std::string>& tenant) {
  db::TxOptions scope{.read_only = true};
  if (tenant)
    scope.tenant = tenant;
  else
    scope.cross_tenant_read = "test: count";
  auto r = db().transact(scope, [&](db::Tx& tx) {
    return tx.query_one("SELECT COUNT(*) FROM " + table + " WHERE " + where);
  });
  if (!r || !*r) throw std::runtime_error("count " + table);
  return (**r).integer(0);
}

std::vector<std::string> walk(TestApp& app, const std::string& path, const std::string& token,
                              const std::string& field, const std::function<void()>& between,
                              int limit) {
  std::vector<std::string> seen;
  std::string cursor;
  do {
    auto r = app.call(
        http::Method::kGet,
        path + "?limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor), {},
        token);
    if (r.status != 200) die("walk " + path, r);
    for (const auto& item : r.body["items"]) seen.push_back(item[field].get<std::string>());
    cursor = r.body["next_cursor"].is_null() ? "" : r.body["next_cursor"].get<std::string>();
    if (!cursor.empty()) between();
  } while (!cursor.empty() && seen.size() < 1000);
  return seen;
}

void expect_whole(const std::vector<std::string>& before, const std::vector<std::string>& seen) {
  std::map<std::string, int> times;
  for (const auto& s : seen) ++times[s];
  for (const auto& [value, n] : times) EXPECT_EQ(n, 1) << value << " seen " << n << " times";
  for (const auto& b : before) EXPECT_TRUE(times.count(b)) << b << " was skipped";
}

std::vector<Reply> concurrently(const std::vector<std::function<Reply()>>& calls) {
  std::vector<Reply> replies(calls.size());
  std::latch start(static_cast<std::ptrdiff_t>(calls.size()));
  std::vector<std::jthread> threads;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      replies[i] = calls[i]();
    });
  }
  threads.clear();  // joins
  return replies;
}

void expect_problem(const Reply& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.raw;
  EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json") << r.raw;
  EXPECT_EQ(r.code(), code) << r.raw;
}

}  // namespace atrium::testing
