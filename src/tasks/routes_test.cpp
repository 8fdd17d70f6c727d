// The tasks routes through the application's request path (routing, authentication, policy,
// problem+json), on every database backend, with a fake authenticator.
#include "tasks/routes.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "app/api.hpp"
#include "broker/embedded/embedded_event_bus.hpp"
#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/tenants.hpp"
#include "tasks/echo_executor.hpp"

namespace atrium::tasks {
namespace {

using http::Method;
using http::Request;
using http::Response;
using testing::Backend;

// "Bearer <org id>|<permission>,<permission>" is a user of that organization holding those.
class FakeAuthenticator final : public access::Authenticator {
 public:
  Result<std::shared_ptr<const Principal>> authenticate(const Request& req) override {
    auto h = req.headers.get("Authorization");
    if (!h) return std::shared_ptr<const Principal>();
    std::string token(h->substr(h->find(' ') + 1));
    auto bar = token.find('|');
    if (bar == std::string::npos) return fail(Error::unauthenticated("bad token"));
    Principal p = testing::member_of(token.substr(0, bar));
    p.user_id = "0190a0a0-0000-7000-8000-000000000001";
    p.permissions.clear();
    std::string perms = token.substr(bar + 1);
    for (std::size_t start = 0; start <= perms.size();) {
      auto comma = perms.find(',', start);
      if (comma == std::string::npos) comma = perms.size();
      if (comma > start) p.permissions.push_back(perms.substr(start, comma - start));
      start = comma + 1;
    }
    return std::make_shared<const Principal>(std::move(p));
  }
};

class TaskRoutesTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
    org_a_ = testing::add_organization(**db_, "alpha");
    org_b_ = testing::add_organization(**db_, "beta");
    agent_a_ = testing::add_agent(**db_, org_a_, "echo");
    agent_b_ = testing::add_agent(**db_, org_b_, "echo");
    executors_.add("echo", std::make_unique<EchoExecutor>());
    store_ = std::make_unique<TaskStore>(**db_, clock_);
    service_ =
        std::make_unique<TaskService>(*store_, events_, executors_, limits_, nullptr,
                                      [this](const std::string& id) { stopped_.insert(id); });
    http::Router router;
    add_routes(router, *service_);
    api_ = std::make_unique<app::Api>(std::move(router), metrics_, &auth_, app::ApiOptions{});
  }

  std::string admin(const std::string& org) {
    return org + "|tasks:read,tasks:create,tasks:cancel";
  }

  Response call(Method m, const std::string& path, const std::string& token,
                const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    Request req;
    req.method = m;
    req.method_text = std::string(http::method_name(m));
    auto q = path.find('?');
    req.path = path.substr(0, q);
    if (q != std::string::npos) req.query = path.substr(q + 1);
    if (!token.empty()) req.headers.add("Authorization", "Bearer " + token);
    if (!body.empty()) req.headers.add("Content-Type", "application/json");
    for (auto& [k, v] : headers) req.headers.add(k, v);
    req.body = body;
    req.remote_ip = "192.0.2.7";
    return api_->handle(req);
  }

  Response create(const std::string& org, const std::string& agent, const nlohmann::json& body,
                  std::map<std::string, std::string> headers = {}) {
    return call(Method::kPost, "/api/agents/" + agent + "/tasks", admin(org), body.dump(),
                std::move(headers));
  }

  static nlohmann::json json(const Response& r) { return nlohmann::json::parse(r.body); }

  static void expect_problem(const Response& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(json(r)["code"], code) << r.body;
  }

  std::vector<std::pair<std::string, std::string>> audit(const std::string& org) {
    auto rows = (*db_)->transact({.tenant = org, .read_only = true}, [&](db::Tx& tx) {
      return tx.query(
          "SELECT action, target_id FROM audit_log WHERE organization_id = $1 AND target_type = "
          "'task' ORDER BY id",
          {org});
    });
    std::vector<std::pair<std::string, std::string>> out;
    if (rows)
      for (const auto& row : *rows) out.emplace_back(row.text(0), row.text(1));
    return out;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  SystemClock clock_;
  metrics::Registry metrics_;
  broker::EmbeddedEventBus bus_;
  TaskEvents events_{&bus_, nullptr};
  Executors executors_;
  CreateLimits limits_;
  std::unique_ptr<TaskStore> store_;
  std::unique_ptr<TaskService> service_;
  std::set<std::string> stopped_;
  FakeAuthenticator auth_;
  std::unique_ptr<app::Api> api_;
  std::string org_a_, org_b_, agent_a_, agent_b_;
};

TEST_P(TaskRoutesTest, CreateAnswers202WithTheQueuedTask) {
  auto r = create(org_a_, agent_a_, {{"input", {{"text", "hi"}, {"steps", 2}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  auto task = json(r);
  EXPECT_EQ(task["status"], "queued");
  EXPECT_EQ(task["agent_id"], agent_a_);
  EXPECT_EQ(task["input"], nlohmann::json({{"text", "hi"}, {"steps", 2}}));
  EXPECT_TRUE(task["output"].is_null());
  EXPECT_TRUE(task["error"].is_null());
  EXPECT_EQ(task["attempts"], 0);
  EXPECT_TRUE(task["started_at"].is_null());
  EXPECT_TRUE(task["finished_at"].is_null());
  EXPECT_EQ(task["created_by"], "0190a0a0-0000-7000-8000-000000000001");
  for (const char* field : {"id", "agent_id", "status", "input", "output", "error", "attempts",
                            "created_by", "created_at", "started_at", "finished_at"})
    EXPECT_TRUE(task.contains(field)) << field;
  EXPECT_EQ(r.headers.get("Location"), "/api/tasks/" + task["id"].get<std::string>());

  auto got = call(Method::kGet, "/api/tasks/" + task["id"].get<std::string>(), admin(org_a_));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json(got), task);
  EXPECT_EQ(audit(org_a_), (std::vector<std::pair<std::string, std::string>>{
                               {"task.create", task["id"].get<std::string>()}}));
}

TEST_P(TaskRoutesTest, ChecksCredentialsThenPermissionThenTheAgentThenTheBody) {
  const std::string path = "/api/agents/" + agent_a_ + "/tasks";
  expect_problem(call(Method::kPost, path, "", "{}"), 401, "unauthenticated");
  expect_problem(call(Method::kPost, path, org_a_ + "|tasks:read", "{\"input\":1}"), 403,
                 "permission_denied");
  // Another tenant's agent, a missing one, a malformed id: 404 even with a bad body.
  expect_problem(create(org_a_, agent_b_, {{"nonsense", true}}), 404, "not_found");
  expect_problem(create(org_a_, new_id(), {{"input", 1}}), 404, "not_found");
  expect_problem(call(Method::kPost, "/api/agents/x'--/tasks", admin(org_a_), "{\"input\":1}"), 404,
                 "not_found");
  expect_problem(create(org_a_, agent_a_, {{"nonsense", true}}), 400, "invalid_request");
  EXPECT_TRUE(audit(org_a_).empty());
  EXPECT_TRUE(store_->list(testing::member_of(org_a_), {})->empty());
}

TEST_P(TaskRoutesTest, RefusesBadBodiesWithFieldErrors) {
  auto missing = create(org_a_, agent_a_, nlohmann::json::object());
  expect_problem(missing, 400, "invalid_request");
  EXPECT_EQ(json(missing)["errors"][0]["field"], "input");

  auto steps = create(org_a_, agent_a_, {{"input", {{"steps", 21}}}});
  expect_problem(steps, 400, "invalid_request");
  EXPECT_EQ(json(steps)["errors"][0]["field"], "input.steps");

  auto big = create(org_a_, agent_a_, {{"input", std::string(kMaxInputBytes + 10, 'x')}});
  expect_problem(big, 400, "invalid_request");
  EXPECT_EQ(json(big)["errors"][0]["field"], "input");

  expect_problem(call(Method::kPost, "/api/agents/" + agent_a_ + "/tasks", admin(org_a_), "{nope"),
                 400, "invalid_request");
  expect_problem(
      create(org_a_, agent_a_, {{"input", 1}, {"idempotency_key", std::string(256, 'k')}}), 400,
      "invalid_request");
  expect_problem(create(org_a_, agent_a_, {{"input", 1}}, {{"Idempotency-Key", "has space"}}), 400,
                 "invalid_request");
  expect_problem(create(org_a_, agent_a_, {{"input", 1}, {"idempotency_key", "a"}},
                        {{"Idempotency-Key", "b"}}),
                 400, "invalid_request");
  Request wrong_type;
  wrong_type.method = Method::kPost;
  wrong_type.path = "/api/agents/" + agent_a_ + "/tasks";
  wrong_type.headers.add("Authorization", "Bearer " + admin(org_a_));
  wrong_type.headers.add("Content-Type", "text/plain");
  wrong_type.body = "{\"input\":1}";
  expect_problem(api_->handle(wrong_type), 415, "unsupported_media_type");
  EXPECT_TRUE(store_->list(testing::member_of(org_a_), {})->empty());
}

TEST_P(TaskRoutesTest, AnIdempotencyKeyReplaysTheOriginalTask) {
  auto first = create(org_a_, agent_a_, {{"input", {{"n", 1}}}, {"idempotency_key", "order-42"}});
  ASSERT_EQ(first.status, 202);
  auto by_header =
      create(org_a_, agent_a_, {{"input", {{"n", 1}}}}, {{"Idempotency-Key", "order-42"}});
  ASSERT_EQ(by_header.status, 202);
  EXPECT_EQ(json(by_header), json(first));
  auto both = create(org_a_, agent_a_, {{"input", {{"n", 1}}}, {"idempotency_key", "order-42"}},
                     {{"Idempotency-Key", "order-42"}});
  EXPECT_EQ(json(both)["id"], json(first)["id"]);
  expect_problem(create(org_a_, agent_a_, {{"input", {{"n", 2}}}, {"idempotency_key", "order-42"}}),
                 409, "conflict");
  // One task, one audit entry.
  EXPECT_EQ(store_->list(testing::member_of(org_a_), {})->size(), 1u);
  EXPECT_EQ(audit(org_a_).size(), 1u);
}

TEST_P(TaskRoutesTest, ConcurrentDuplicatesAllAnswerWithOneTask) {
  constexpr int kClients = 8;
  std::vector<std::thread> clients;
  std::vector<Response> answers(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      answers[i] = create(org_a_, agent_a_, {{"input", "same"}}, {{"Idempotency-Key", "dup-1"}});
    });
  }
  for (auto& c : clients) c.join();
  std::set<std::string> ids;
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 202) << a.body;
    ids.insert(json(a)["id"]);
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(store_->list(testing::member_of(org_a_), {})->size(), 1u);
}

TEST_P(TaskRoutesTest, TheQueuedLimitAnswers429WithRetryAfter) {
  limits_.max_queued = 2;
  limits_.retry_after_seconds = 9;
  service_ = std::make_unique<TaskService>(*store_, events_, executors_, limits_, nullptr, nullptr);
  http::Router router;
  add_routes(router, *service_);
  api_ = std::make_unique<app::Api>(std::move(router), metrics_, &auth_, app::ApiOptions{});
  ASSERT_EQ(create(org_a_, agent_a_, {{"input", 1}}).status, 202);
  ASSERT_EQ(create(org_a_, agent_a_, {{"input", 2}}).status, 202);
  auto r = create(org_a_, agent_a_, {{"input", 3}});
  expect_problem(r, 429, "rate_limited");
  EXPECT_EQ(r.headers.get("Retry-After"), "9");
  EXPECT_EQ(create(org_b_, agent_b_, {{"input", 1}}).status, 202);
}

TEST_P(TaskRoutesTest, ListsPageByPageWithFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(json(create(org_a_, agent_a_, {{"input", i}}))["id"]);
  create(org_b_, agent_b_, {{"input", 0}});

  std::vector<std::string> seen;
  std::string path = "/api/tasks?limit=2";
  for (int page = 0; page < 5; ++page) {
    auto r = call(Method::kGet, path, admin(org_a_));
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = json(r);
    for (const auto& t : body["items"]) seen.push_back(t["id"]);
    if (body["next_cursor"].is_null()) break;
    path = "/api/tasks?limit=2&cursor=" + body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));

  auto r = call(Method::kGet, "/api/tasks", admin(org_a_));
  EXPECT_EQ(json(r)["items"].size(), 5u);
  EXPECT_TRUE(json(r)["next_cursor"].is_null());

  ASSERT_EQ(call(Method::kPost, "/api/tasks/" + ids[2] + "/cancel", admin(org_a_)).status, 200);
  auto cancelled = json(call(Method::kGet, "/api/tasks?status=cancelled", admin(org_a_)));
  ASSERT_EQ(cancelled["items"].size(), 1u);
  EXPECT_EQ(cancelled["items"][0]["id"], ids[2]);
  auto by_agent = json(call(
      Method::kGet, "/api/tasks?agent_id=" + agent_a_ + "&status=queued&limit=100", admin(org_a_)));
  EXPECT_EQ(by_agent["items"].size(), 4u);

  // Another tenant's agent: nothing, not an error.
  auto theirs = call(Method::kGet, "/api/tasks?agent_id=" + agent_b_, admin(org_a_));
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(json(theirs)["items"].empty());
  auto b = json(call(Method::kGet, "/api/tasks", admin(org_b_)));
  EXPECT_EQ(b["items"].size(), 1u);
}

TEST_P(TaskRoutesTest, ListItemsAreTheBytesOfTheObjects) {
  // The list writes its page as text (JsonText), a single task through nlohmann: the same bytes.
  const nlohmann::json odd = {
      {"z", {{"b", 2.5}, {"a", {1, -2, 1e300, nullptr, true}}}},
      {"text", "Odd \"quoted\" caf\u00e9 \U0001F600 back\\slash\ttab\nline \x01"},
      {"empty", nlohmann::json::object()}};
  std::vector<std::string> ids;
  for (const auto& input : {nlohmann::json("plain"), odd, nlohmann::json(7)})
    ids.push_back(json(create(org_a_, agent_a_, {{"input", input}}))["id"]);
  ASSERT_EQ(call(Method::kPost, "/api/tasks/" + ids[1] + "/cancel", admin(org_a_)).status, 200);

  auto list = call(Method::kGet, "/api/tasks", admin(org_a_));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.headers.get("Content-Type"), "application/json");
  ASSERT_EQ(json(list)["items"].size(), 3u);
  for (const auto& id : ids) {
    auto one = call(Method::kGet, "/api/tasks/" + id, admin(org_a_));
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_NE(list.body.find(one.body), std::string::npos) << list.body << "\n" << one.body;
  }
  EXPECT_EQ(list.body, json(list).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  auto paged = call(Method::kGet, "/api/tasks?limit=1", admin(org_a_));
  EXPECT_EQ(paged.body, json(paged).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  EXPECT_TRUE(json(paged)["next_cursor"].is_string());
}

TEST_P(TaskRoutesTest, MalformedQueryValuesAre400) {
  for (const char* query : {"limit=0", "limit=101", "limit=x", "cursor=%%%", "cursor=abc",
                            "status=done", "status=", "agent_id=nope", "agent_id="}) {
    expect_problem(call(Method::kGet, std::string("/api/tasks?") + query, admin(org_a_)), 400,
                   "invalid_request");
  }
}

TEST_P(TaskRoutesTest, GetAndCancelAreConfinedToTheTenant) {
  const std::string id = json(create(org_a_, agent_a_, {{"input", 1}}))["id"];
  expect_problem(call(Method::kGet, "/api/tasks/" + id, admin(org_b_)), 404, "not_found");
  expect_problem(call(Method::kPost, "/api/tasks/" + id + "/cancel", admin(org_b_)), 404,
                 "not_found");
  expect_problem(call(Method::kGet, "/api/tasks/not-an-id", admin(org_a_)), 404, "not_found");
  expect_problem(call(Method::kGet, "/api/tasks/" + id, org_a_ + "|tasks:create"), 403,
                 "permission_denied");
  expect_problem(call(Method::kPost, "/api/tasks/" + id + "/cancel", org_a_ + "|tasks:read"), 403,
                 "permission_denied");
  EXPECT_EQ(json(call(Method::kGet, "/api/tasks/" + id, admin(org_a_)))["status"], "queued");
}

TEST_P(TaskRoutesTest, CancelQueuedThenConflictOnceFinished) {
  const std::string id = json(create(org_a_, agent_a_, {{"input", 1}}))["id"];
  auto r = call(Method::kPost, "/api/tasks/" + id + "/cancel", admin(org_a_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json(r)["status"], "cancelled");
  EXPECT_FALSE(json(r)["finished_at"].is_null());
  EXPECT_TRUE(stopped_.count(id));
  expect_problem(call(Method::kPost, "/api/tasks/" + id + "/cancel", admin(org_a_)), 409,
                 "conflict");
  auto entries = audit(org_a_);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1], std::make_pair(std::string("task.cancel"), id));
}

TEST_P(TaskRoutesTest, CreateAndCancelAnnounceTheTaskToItsOrganizationOnly) {
  std::mutex mu;
  std::vector<std::pair<std::string, nlohmann::json>> seen;  // tenant, payload
  auto sub = bus_.subscribe({std::string(kStatusTopic), std::nullopt}, [&](const broker::Event& e) {
    std::lock_guard lock(mu);
    seen.emplace_back(e.tenant, nlohmann::json::parse(e.payload));
  });
  const nlohmann::json body{{"input", 1}, {"idempotency_key", "k"}};
  const std::string id = json(create(org_a_, agent_a_, body))["id"];
  ASSERT_EQ(create(org_a_, agent_a_, body).status, 202);
  ASSERT_EQ(call(Method::kPost, "/api/tasks/" + id + "/cancel", admin(org_a_)).status, 200);
  ASSERT_EQ(call(Method::kPost, "/api/tasks/" + id + "/cancel", admin(org_a_)).status, 409);
  // The bus delivers in publish order: once this one's event is in, any event of the replayed
  // key or the refused cancel would be too.
  const std::string last = json(create(org_b_, agent_b_, {{"input", 2}}))["id"];

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto count = [&] {
    std::lock_guard lock(mu);
    return seen.size();
  };
  while (count() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, org_a_);
  EXPECT_EQ(seen[0].second["task"]["id"], id);
  EXPECT_EQ(seen[0].second["task"]["status"], "queued");
  EXPECT_EQ(seen[1].first, org_a_);
  EXPECT_EQ(seen[1].second["task"]["id"], id);
  EXPECT_EQ(seen[1].second["task"]["status"], "cancelled");
  EXPECT_EQ(seen[2].first, org_b_);
  EXPECT_EQ(seen[2].second["task"]["id"], last);
  for (const auto& [tenant, payload] : seen) EXPECT_FALSE(payload.contains("progress"));
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskRoutesTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::tasks
