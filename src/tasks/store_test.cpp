// The task store on every database backend: tenant isolation, idempotency, limits, and the
// conditional transitions the workers rely on.
#include "tasks/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "agents/store.hpp"
#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/eventually.hpp"
#include "support/fake_clock.hpp"
#include "support/tenants.hpp"

namespace atrium::tasks {
namespace {

using namespace std::chrono_literals;
using testing::Backend;

class TaskStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
    org_a_ = testing::add_organization(**db_, "alpha");
    org_b_ = testing::add_organization(**db_, "beta");
    agent_a_ = testing::add_agent(**db_, org_a_, "echo");
    agent_b_ = testing::add_agent(**db_, org_b_, "echo");
    alice_ = testing::member_of(org_a_);
    bob_ = testing::member_of(org_b_);
    store_ = std::make_unique<TaskStore>(**db_, clock_);
  }

  Task create(const Principal& who, const std::string& agent,
              nlohmann::json input = nlohmann::json::object(),
              std::optional<std::string> key = std::nullopt) {
    auto c = store_->create(who, {agent, std::move(input), std::move(key)}, limits_);
    EXPECT_TRUE(c) << (c ? "" : c.error().detail);
    return c ? c->task : Task{};
  }

  TaskRef ref(const Task& t) { return {t.id, t.organization_id}; }

  // The task's generation now: that of the message a worker would receive.
  std::int64_t generation(const Task& t) {
    auto got = store_->get(alice_.org_id == t.organization_id ? alice_ : bob_, t.id);
    EXPECT_TRUE(got);
    return got ? got->queue_generation : -1;
  }

  Claimed claim(const Task& t, int max_running = 0) {
    auto c = store_->claim(ref(t), generation(t), clock_.now() + 30s, max_running, 1s);
    EXPECT_TRUE(c);
    EXPECT_TRUE(c && std::holds_alternative<Claimed>(*c));
    if (!c || !std::holds_alternative<Claimed>(*c)) return {};
    return std::get<Claimed>(*c);
  }

  std::optional<ClaimRefusal> refusal(const Task& t, int max_running = 0,
                                      std::optional<std::int64_t> of_generation = std::nullopt) {
    auto c = store_->claim(ref(t), of_generation.value_or(generation(t)), clock_.now() + 30s,
                           max_running, 1s);
    EXPECT_TRUE(c);
    if (!c || !std::holds_alternative<ClaimRefusal>(*c)) return std::nullopt;
    return std::get<ClaimRefusal>(*c);
  }

  // Unsent outbox messages for a task.
  int messages_for(const Task& t) {
    auto n = (*db_)->transact({}, [&](db::Tx& tx) -> Result<std::int64_t> {
      auto rows = tx.query("SELECT payload, tenant FROM outbox WHERE published_at IS NULL");
      if (!rows) return fail(rows.error());
      std::int64_t count = 0;
      for (const auto& row : *rows) {
        auto parsed = parse_queue_body(row.text(0));
        if (parsed && parsed->task_id == t.id) {
          EXPECT_EQ(row.text(1), t.organization_id);
          ++count;
        }
      }
      return count;
    });
    return static_cast<int>(n.value_or(-1));
  }

  Status status_of(const Task& t) {
    auto got = store_->get(alice_.org_id == t.organization_id ? alice_ : bob_, t.id);
    EXPECT_TRUE(got);
    return got ? got->status : Status::kFailed;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  testing::FakeClock clock_;
  std::unique_ptr<TaskStore> store_;
  CreateLimits limits_;
  std::string org_a_, org_b_, agent_a_, agent_b_;
  Principal alice_, bob_;
};

TEST_P(TaskStoreTest, CreatesAQueuedTaskWithItsQueueMessage) {
  Task t = create(alice_, agent_a_, {{"text", "hi"}});
  EXPECT_EQ(t.status, Status::kQueued);
  EXPECT_EQ(t.agent_id, agent_a_);
  EXPECT_EQ(t.organization_id, org_a_);
  EXPECT_EQ(t.attempts, 0);
  EXPECT_EQ(t.created_by, alice_.user_id);
  EXPECT_EQ(messages_for(t), 1);

  auto got = store_->get(alice_, t.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->input, nlohmann::json({{"text", "hi"}}));
  EXPECT_TRUE(got->output.is_null());
  EXPECT_EQ(to_json(*got), to_json(t));
}

TEST_P(TaskStoreTest, AnotherTenantsTasksAndAgentsAreNotFound) {
  Task t = create(alice_, agent_a_);
  auto as_bob = store_->get(bob_, t.id);
  ASSERT_FALSE(as_bob);
  EXPECT_EQ(as_bob.error().code, Code::kNotFound);
  auto cancel = store_->cancel(bob_, t.id);
  ASSERT_FALSE(cancel);
  EXPECT_EQ(cancel.error().code, Code::kNotFound);
  EXPECT_EQ(status_of(t), Status::kQueued);

  auto on_their_agent = store_->create(bob_, {agent_a_, {}, std::nullopt}, limits_);
  ASSERT_FALSE(on_their_agent);
  EXPECT_EQ(on_their_agent.error().code, Code::kNotFound);
  EXPECT_EQ(store_->agent_executor(bob_, agent_a_).error().code, Code::kNotFound);
  EXPECT_EQ(store_->agent_executor(alice_, agent_a_).value_or(""), "echo");

  auto list = store_->list(bob_, {.agent_id = agent_a_});
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  auto all = store_->list(bob_, {});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());

  Principal no_org = alice_;
  no_org.org_id.reset();
  EXPECT_EQ(store_->get(no_org, t.id).error().code, Code::kNotFound);
  EXPECT_TRUE(store_->list(no_org, {})->empty());
}

TEST_P(TaskStoreTest, MalformedIdsAreNotFound) {
  EXPECT_EQ(store_->get(alice_, "not-a-uuid").error().code, Code::kNotFound);
  EXPECT_EQ(store_->cancel(alice_, "").error().code, Code::kNotFound);
  EXPECT_EQ(
      store_->create(alice_, {"x'; DROP TABLE tasks", {}, std::nullopt}, limits_).error().code,
      Code::kNotFound);
}

TEST_P(TaskStoreTest, ListsNewestFirstWithFiltersAndCursor) {
  std::vector<Task> made;
  for (int i = 0; i < 5; ++i) made.push_back(create(alice_, agent_a_, {{"i", i}}));
  const std::string other_agent = testing::add_agent(**db_, org_a_, "echo");
  Task other = create(alice_, other_agent);
  create(bob_, agent_b_);

  auto page1 = store_->list(alice_, {.agent_id = agent_a_, .limit = 3});
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->size(), 3u);
  EXPECT_EQ((*page1)[0].id, made[4].id);
  EXPECT_EQ((*page1)[2].id, made[2].id);
  auto page2 =
      store_->list(alice_, {.agent_id = agent_a_, .before_id = (*page1)[2].id, .limit = 3});
  ASSERT_TRUE(page2);
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[1].id, made[0].id);

  ASSERT_TRUE(store_->cancel(alice_, made[1].id));
  auto cancelled = store_->list(alice_, {.status = Status::kCancelled});
  ASSERT_TRUE(cancelled);
  ASSERT_EQ(cancelled->size(), 1u);
  EXPECT_EQ(cancelled->front().id, made[1].id);
  auto everything = store_->list(alice_, {.limit = 100});
  ASSERT_EQ(everything->size(), 6u);
  EXPECT_EQ(everything->front().id, other.id);
}

TEST_P(TaskStoreTest, AnIdempotencyKeyReturnsTheOriginalTask) {
  Task first = create(alice_, agent_a_, {{"n", 1}}, "key-1");
  auto again = store_->create(alice_, {agent_a_, {{"n", 1}}, "key-1"}, limits_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->task.id, first.id);
  EXPECT_EQ(messages_for(first), 1);

  auto other_input = store_->create(alice_, {agent_a_, {{"n", 2}}, "key-1"}, limits_);
  ASSERT_FALSE(other_input);
  EXPECT_EQ(other_input.error().code, Code::kConflict);

  // Keys are per organization.
  Task bobs = create(bob_, agent_b_, {{"n", 1}}, "key-1");
  EXPECT_NE(bobs.id, first.id);
}

TEST_P(TaskStoreTest, ConcurrentDuplicatesMakeOneTask) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> ids(kThreads);
  std::atomic<int> replays{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto c = store_->create(alice_, {agent_a_, {{"same", true}}, "concurrent"}, limits_);
      ASSERT_TRUE(c) << c.error().detail;
      ids[i] = c->task.id;
      if (c->replayed) ++replays;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(replays.load(), kThreads - 1);
  auto all = store_->list(alice_, {.limit = 100});
  EXPECT_EQ(all->size(), 1u);
}

// Creates from many threads (which share transactions: a group commit) each get their own task,
// with their own input, queue message and what their `also` wrote.
TEST_P(TaskStoreTest, ConcurrentCreatesEachGetTheirOwnTaskAndMessage) {
  constexpr int kThreads = 8;
  constexpr int kEach = 12;
  std::vector<std::thread> threads;
  std::vector<std::vector<Task>> made(kThreads);
  std::atomic<int> also_ran{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const Principal& who = i % 2 ? bob_ : alice_;
      const std::string& agent = i % 2 ? agent_b_ : agent_a_;
      for (int j = 0; j < kEach; ++j) {
        auto c = store_->create(who, {agent, {{"thread", i}, {"n", j}}}, limits_, nullptr,
                                [&](db::Tx&, const Task& t) -> Result<void> {
                                  EXPECT_EQ(t.input, nlohmann::json({{"thread", i}, {"n", j}}));
                                  ++also_ran;
                                  return {};
                                });
        ASSERT_TRUE(c) << c.error().detail;
        made[i].push_back(c->task);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_EQ(made[i].size(), static_cast<std::size_t>(kEach));
    for (int j = 0; j < kEach; ++j) {
      const Task& t = made[i][j];
      ids.insert(t.id);
      EXPECT_EQ(t.organization_id, i % 2 ? org_b_ : org_a_);
      auto got = store_->get(i % 2 ? bob_ : alice_, t.id);
      ASSERT_TRUE(got) << got.error().detail;
      EXPECT_EQ(got->input, nlohmann::json({{"thread", i}, {"n", j}}));
      EXPECT_EQ(messages_for(t), 1);
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_GE(also_ran.load(), kThreads * kEach);  // a body re-run (busy SQLite) runs it again
  EXPECT_EQ(store_->list(alice_, {.limit = 1000})->size(),
            static_cast<std::size_t>(kThreads * kEach / 2));
}

TEST_P(TaskStoreTest, TheQueuedLimitRefusesWithRetryAfter) {
  limits_.max_queued = 2;
  limits_.retry_after_seconds = 7;
  Task t1 = create(alice_, agent_a_, {}, "k1");
  create(alice_, agent_a_);
  auto third = store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Code::kRateLimited);
  EXPECT_EQ(third.error().retry_after_seconds, 7);
  // A replay is not a new task: still answered.
  EXPECT_TRUE(store_->create(alice_, {agent_a_, {}, "k1"}, limits_));
  // Other organizations are not affected, and a claimed task frees a place.
  EXPECT_TRUE(store_->create(bob_, {agent_b_, {}, std::nullopt}, limits_));
  claim(t1);
  EXPECT_TRUE(store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_));
}

TEST_P(TaskStoreTest, TheQueuedLimitCountsAgainOnceItsCountIsOld) {
  limits_.max_queued = 3;
  TaskStore other(**db_, clock_);  // e.g. another replica's
  create(alice_, agent_a_);
  ASSERT_TRUE(other.create(alice_, {agent_a_, {}, std::nullopt}, limits_));
  ASSERT_TRUE(other.create(alice_, {agent_a_, {}, std::nullopt}, limits_));
  // Three are queued; this store counted none besides its own a moment ago.
  clock_.advance(kQueuedRecount);
  auto refused = store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kRateLimited);
  // Reaching the limit counts at once: a task leaving the queue makes room without waiting.
  Task first = store_->list(alice_, {.limit = 1})->front();
  ASSERT_TRUE(store_->cancel(alice_, first.id));
  EXPECT_TRUE(store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_));
  auto full = store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Code::kRateLimited);
}

TEST_P(TaskStoreTest, ClaimFinishAndDuplicatesCannotMoveAFinishedTask) {
  Task t = create(alice_, agent_a_, {{"x", 1}});
  Claimed c = claim(t);
  EXPECT_EQ(c.task.status, Status::kRunning);
  EXPECT_EQ(c.task.attempts, 1);
  EXPECT_TRUE(c.task.started_at.has_value());
  EXPECT_EQ(c.agent.executor, "echo");
  // Every column of the agent, as the agent store reads it (PostgreSQL's claim returns them from
  // claim_task(), in the order agents::store reads them).
  auto agent = (*db_)->transact({.tenant = org_a_, .read_only = true}, [&](db::Tx& tx) {
    return agents::store::find(tx, alice_, agent_a_);
  });
  ASSERT_TRUE(agent && *agent);
  EXPECT_EQ(agents::to_json(c.agent), agents::to_json(**agent));
  EXPECT_EQ(refusal(t), ClaimRefusal::kNotClaimable);  // a duplicate delivery

  auto done = store_->finish(ref(t), 1, Status::kSucceeded, {{"echo", {{"x", 1}}}}, std::nullopt);
  ASSERT_TRUE(done && *done);
  EXPECT_EQ((*done)->status, Status::kSucceeded);
  EXPECT_EQ((*done)->output, nlohmann::json({{"echo", {{"x", 1}}}}));
  EXPECT_TRUE((*done)->finished_at.has_value());

  auto twice = store_->finish(ref(t), 1, Status::kFailed, nullptr, "late");
  ASSERT_TRUE(twice);
  EXPECT_FALSE(*twice);
  EXPECT_EQ(refusal(t), ClaimRefusal::kNotClaimable);
  auto retried = store_->retry(ref(t), 1, "late", clock_.now());
  ASSERT_TRUE(retried);
  EXPECT_FALSE(*retried);
  EXPECT_EQ(store_->get(alice_, t.id)->status, Status::kSucceeded);
}

TEST_P(TaskStoreTest, FinishAllWritesEachClaimsOutcomeAndSkipsThoseNoLongerItsOwn) {
  Task ok = create(alice_, agent_a_);
  Task failed = create(alice_, agent_a_);
  Task done = create(alice_, agent_a_);
  Task taken_over = create(alice_, agent_a_);
  for (const Task* t : {&ok, &failed, &done, &taken_over}) claim(*t);
  ASSERT_TRUE(store_->finish(ref(done), 1, Status::kSucceeded, {}, std::nullopt).value());
  clock_.advance(31s);
  ASSERT_TRUE(store_->recover(ref(taken_over), 3, [](int) { return 0ms; }).value());
  claim(taken_over);  // attempt 2 runs it now

  // Text that an array literal must quote: quotes, backslashes, braces, commas, NULL-like words.
  const nlohmann::json output = {{"echo", "a \"quoted\" {x,y} \\ NULL é"}, {"n", 1}};
  const std::string error = "bad \"input\", {1,2} \\ NULL";
  const std::vector<Finish> batch = {
      {ref(ok), 1, Status::kSucceeded, output, std::nullopt},
      {ref(done), 1, Status::kFailed, nullptr, "late duplicate"},
      {ref(failed), 1, Status::kFailed, nullptr, error},
      {ref(taken_over), 1, Status::kSucceeded, {}, std::nullopt},
  };
  auto results = store_->finish_all(batch);
  ASSERT_TRUE(results) << results.error().detail;
  ASSERT_EQ(results->size(), 4u);
  ASSERT_TRUE((*results)[0]);
  EXPECT_EQ((*results)[0]->id, ok.id);
  EXPECT_EQ((*results)[0]->status, Status::kSucceeded);
  EXPECT_EQ((*results)[0]->output, output);
  EXPECT_TRUE((*results)[0]->finished_at.has_value());
  EXPECT_FALSE((*results)[1]);
  ASSERT_TRUE((*results)[2]);
  EXPECT_EQ((*results)[2]->id, failed.id);
  EXPECT_EQ((*results)[2]->status, Status::kFailed);
  EXPECT_EQ((*results)[2]->error, error);
  EXPECT_FALSE((*results)[3]);

  EXPECT_EQ(store_->get(alice_, ok.id)->output, output);
  EXPECT_EQ(store_->get(alice_, failed.id)->error, error);
  EXPECT_EQ(store_->get(alice_, done.id)->status, Status::kSucceeded);
  EXPECT_EQ(store_->get(alice_, taken_over.id)->status, Status::kRunning);
  EXPECT_TRUE(store_->finish(ref(taken_over), 2, Status::kSucceeded, {}, std::nullopt).value());
}

TEST_P(TaskStoreTest, FinishAllRefusesABatchOfSeveralOrganizations) {
  Task a = create(alice_, agent_a_);
  Task b = create(bob_, agent_b_);
  claim(a);
  claim(b);
  const std::vector<Finish> batch = {{ref(a), 1, Status::kSucceeded, {}, std::nullopt},
                                     {ref(b), 1, Status::kSucceeded, {}, std::nullopt}};
  EXPECT_FALSE(store_->finish_all(batch));
  EXPECT_EQ(store_->get(alice_, a.id)->status, Status::kRunning);
  EXPECT_EQ(store_->get(bob_, b.id)->status, Status::kRunning);
}

TEST_P(TaskStoreTest, ALateWorkerIsFencedOffByTheAttempt) {
  Task t = create(alice_, agent_a_);
  claim(t);
  clock_.advance(31s);
  auto recovered = store_->recover(ref(t), 3, [](int) { return 0ms; });
  ASSERT_TRUE(recovered && *recovered);
  EXPECT_EQ((*recovered)->status, Status::kQueued);
  Claimed second = claim(t);
  EXPECT_EQ(second.task.attempts, 2);
  // The first worker comes back: its heartbeat and its result are refused.
  EXPECT_FALSE(store_->heartbeat(ref(t), 1, clock_.now() + 30s).value_or(true));
  EXPECT_FALSE(store_->finish(ref(t), 1, Status::kSucceeded, {}, std::nullopt).value());
  EXPECT_TRUE(store_->heartbeat(ref(t), 2, clock_.now() + 30s).value_or(false));
  EXPECT_TRUE(store_->finish(ref(t), 2, Status::kSucceeded, {}, std::nullopt).value());
}

TEST_P(TaskStoreTest, ARetryWaitsForItsBackoff) {
  Task t = create(alice_, agent_a_);
  claim(t);
  auto queued = store_->retry(ref(t), 1, "rate limited upstream", clock_.now() + 10s);
  ASSERT_TRUE(queued && *queued);
  EXPECT_EQ((*queued)->status, Status::kQueued);
  EXPECT_EQ((*queued)->error, "rate limited upstream");
  EXPECT_EQ(messages_for(t), 2);  // the creation's and the retry's (due in 10 s)
  EXPECT_EQ(refusal(t), ClaimRefusal::kDeferred);
  EXPECT_EQ(messages_for(t), 3);
  clock_.advance(10s);
  EXPECT_EQ(claim(t).task.attempts, 2);
}

TEST_P(TaskStoreTest, AMessageOfAnOlderGenerationIsStaleAndWritesNothing) {
  Task t = create(alice_, agent_a_);
  EXPECT_EQ(generation(t), 0);
  claim(t);
  ASSERT_TRUE(store_->retry(ref(t), 1, "rate limited upstream", clock_.now() + 10s));
  EXPECT_EQ(generation(t), 1);
  EXPECT_EQ(messages_for(t), 2);
  // A copy of the creation's message, early or late: dropped, nothing written.
  EXPECT_EQ(refusal(t, 0, 0), ClaimRefusal::kStale);
  clock_.advance(10s);
  EXPECT_EQ(refusal(t, 0, 0), ClaimRefusal::kStale);
  EXPECT_EQ(messages_for(t), 2);
  EXPECT_EQ(status_of(t), Status::kQueued);
  // Nor does a dead letter of that generation fail the task: the retry's message will run it.
  auto dead = store_->fail_dead_lettered(ref(t), 0, "dead-lettered");
  ASSERT_TRUE(dead);
  EXPECT_FALSE(*dead);
  EXPECT_EQ(claim(t).task.attempts, 2);
}

TEST_P(TaskStoreTest, EachDeferralMovesTheGenerationSoOnlyItsNewMessageCountsAfterIt) {
  Task running = create(alice_, agent_a_);
  Task waiting = create(alice_, agent_a_);
  claim(running);
  EXPECT_EQ(refusal(waiting, 1, 0), ClaimRefusal::kDeferred);
  EXPECT_EQ(generation(waiting), 1);
  EXPECT_EQ(messages_for(waiting), 2);
  // The other copies of generation 0 are dropped, however many: one message keeps going round.
  for (int copy = 0; copy < 3; ++copy) EXPECT_EQ(refusal(waiting, 1, 0), ClaimRefusal::kStale);
  EXPECT_EQ(messages_for(waiting), 2);
  EXPECT_EQ(refusal(waiting, 1, 1), ClaimRefusal::kDeferred);
  EXPECT_EQ(generation(waiting), 2);
  EXPECT_EQ(messages_for(waiting), 3);
  ASSERT_TRUE(store_->finish(ref(running), 1, Status::kSucceeded, {}, std::nullopt));
  EXPECT_EQ(refusal(waiting, 1, 1), ClaimRefusal::kStale);
  EXPECT_EQ(claim(waiting, 1).task.attempts, 1);
}

TEST_P(TaskStoreTest, ABusyTenantIsDeferredWhileOthersRun) {
  Task a1 = create(alice_, agent_a_);
  Task a2 = create(alice_, agent_a_);
  Task b1 = create(bob_, agent_b_);
  claim(a1, 1);
  EXPECT_EQ(refusal(a2, 1), ClaimRefusal::kDeferred);
  EXPECT_EQ(status_of(a2), Status::kQueued);
  EXPECT_EQ(messages_for(a2), 2);
  claim(b1, 1);
  ASSERT_TRUE(store_->finish(ref(a1), 1, Status::kSucceeded, {}, std::nullopt));
  claim(a2, 1);
}

TEST_P(TaskStoreTest, ConcurrentClaimsOfOneTenantNeverExceedItsCap) {
  constexpr int kCap = 2;
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    std::vector<Task> tasks;
    std::vector<std::int64_t> generations;
    for (int i = 0; i < kThreads; ++i) {
      tasks.push_back(create(alice_, agent_a_));
      generations.push_back(generation(tasks.back()));
    }
    std::atomic<bool> go{false};
    std::atomic<int> errors{0};
    std::mutex mu;
    std::vector<Task> claimed;
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        auto c = store_->claim(ref(tasks[i]), generations[i], clock_.now() + 30s, kCap, 1s);
        if (!c) {
          ++errors;
        } else if (auto* taken = std::get_if<Claimed>(&*c)) {
          std::lock_guard lock(mu);
          claimed.push_back(taken->task);
        }
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
    ASSERT_EQ(claimed.size(), static_cast<std::size_t>(kCap)) << "round " << round;
    for (const Task& t : claimed) {
      ASSERT_TRUE(store_->finish(ref(t), 1, Status::kSucceeded, {}, std::nullopt));
    }
  }
}

TEST_P(TaskStoreTest, ExpiredLeasesAreRecoveredThenFailedAfterTheAttempts) {
  Task t = create(alice_, agent_a_);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(claim(t).task.attempts, attempt);
    EXPECT_TRUE(store_->expired_leases(clock_.now(), 10)->empty());
    clock_.advance(31s);
    auto expired = store_->expired_leases(clock_.now(), 10);
    ASSERT_TRUE(expired);
    ASSERT_EQ(expired->size(), 1u);
    EXPECT_EQ(expired->front().id, t.id);
    EXPECT_EQ(expired->front().organization_id, org_a_);
    auto r = store_->recover(ref(t), 3, [](int) { return 0ms; });
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->status, attempt < 3 ? Status::kQueued : Status::kFailed);
  }
  auto failed = store_->get(alice_, t.id);
  EXPECT_EQ(failed->status, Status::kFailed);
  EXPECT_EQ(failed->attempts, 3);
  EXPECT_NE(failed->error.value_or("").find("lease"), std::string::npos);
  // Recovering again changes nothing.
  EXPECT_FALSE(store_->recover(ref(t), 3, [](int) { return 0ms; }).value());
}

TEST_P(TaskStoreTest, CancelQueuedAndRunningButNotTerminal) {
  Task queued = create(alice_, agent_a_);
  auto c1 = store_->cancel(alice_, queued.id);
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->status, Status::kCancelled);
  EXPECT_TRUE(c1->finished_at.has_value());
  EXPECT_EQ(refusal(queued), ClaimRefusal::kNotClaimable);

  Task running = create(alice_, agent_a_);
  claim(running);
  auto c2 = store_->cancel(alice_, running.id);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->status, Status::kCancelled);
  EXPECT_FALSE(store_->heartbeat(ref(running), 1, clock_.now() + 30s).value_or(true));
  EXPECT_FALSE(store_->finish(ref(running), 1, Status::kSucceeded, {}, std::nullopt).value());

  auto again = store_->cancel(alice_, running.id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kConflict);
  EXPECT_EQ(store_->get(alice_, running.id)->status, Status::kCancelled);
}

TEST_P(TaskStoreTest, AWriteInTheSameTransactionRollsTheChangeBack) {
  auto refused =
      store_->create(alice_, {agent_a_, {}, std::nullopt}, limits_, nullptr,
                     [](db::Tx&, const Task&) -> Result<void> { return fail(Error::internal()); });
  ASSERT_FALSE(refused);
  EXPECT_TRUE(store_->list(alice_, {})->empty());

  Task t = create(alice_, agent_a_);
  std::string seen;
  auto c = store_->cancel(alice_, t.id, [&](db::Tx&, const Task& cancelled) -> Result<void> {
    seen = std::string(status_name(cancelled.status));
    return {};
  });
  ASSERT_TRUE(c);
  EXPECT_EQ(seen, "cancelled");
}

TEST_P(TaskStoreTest, TheInputIsCheckedForTheAgentsExecutorInTheSameTransaction) {
  // Refused by some executor: checked for the agent's.
  std::vector<std::string> seen;
  auto refused = store_->create(
      alice_, {agent_a_, {{"steps", 99}}, std::nullopt}, limits_,
      [&](std::optional<std::string_view> executor, const nlohmann::json& input) -> Result<void> {
        seen.emplace_back(executor.value_or("(any)"));
        EXPECT_EQ(input["steps"], 99);
        return fail(Error::field("input.steps", "too many"));
      });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidRequest);
  EXPECT_EQ(seen, (std::vector<std::string>{"(any)", "echo"}));
  EXPECT_TRUE(store_->list(alice_, {})->empty());
  // Another tenant's agent, or none, is not found (and never checked for its executor), whether
  // the input needs the agent's executor or is valid for any.
  for (bool valid_for_any : {false, true}) {
    for (const std::string& agent : {agent_b_, new_id()}) {
      seen.clear();
      auto theirs = store_->create(
          alice_, {agent, {}, std::nullopt}, limits_,
          [&](std::optional<std::string_view> executor, const nlohmann::json&) -> Result<void> {
            seen.emplace_back(executor.value_or("(any)"));
            if (!executor && !valid_for_any) return fail(Error::field("input", "not for all"));
            return {};
          });
      ASSERT_FALSE(theirs);
      EXPECT_EQ(theirs.error().code, Code::kNotFound);
      EXPECT_EQ(seen, (std::vector<std::string>{"(any)"}));
    }
  }
  EXPECT_TRUE(store_->list(alice_, {})->empty());
  EXPECT_TRUE(store_->list(bob_, {})->empty());
}

TEST_P(TaskStoreTest, AKeyUsedForAnotherAgentIsNotFoundWhenTheAgentIsMissing) {
  create(alice_, agent_a_, {{"n", 1}}, "key-1");
  auto missing = store_->create(alice_, {new_id(), {{"n", 1}}, "key-1"}, limits_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  const std::string other = testing::add_agent(**db_, org_a_, "echo");
  auto reused = store_->create(alice_, {other, {{"n", 1}}, "key-1"}, limits_);
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, Code::kConflict);
}

TEST_P(TaskStoreTest, ReleaseGivesTheAttemptBack) {
  Task t = create(alice_, agent_a_);
  claim(t);
  auto released = store_->release(ref(t), 1);
  ASSERT_TRUE(released && *released);
  EXPECT_EQ((*released)->status, Status::kQueued);
  EXPECT_EQ((*released)->attempts, 0);
  EXPECT_EQ(messages_for(t), 2);
  EXPECT_EQ(claim(t).task.attempts, 1);
}

TEST_P(TaskStoreTest, RequeuesEveryQueuedTaskAcrossTenants) {
  std::set<std::string> queued;
  for (int i = 0; i < 7; ++i)
    queued.insert(create(i % 2 ? alice_ : bob_, i % 2 ? agent_a_ : agent_b_).id);
  Task running = create(alice_, agent_a_);
  claim(running);
  std::optional<std::string> after;
  int pages = 0;
  for (;;) {
    auto last = store_->requeue_queued(after, 3);
    ASSERT_TRUE(last);
    if (!*last) break;
    after = *last;
    ++pages;
  }
  EXPECT_EQ(pages, 3);
  auto counts = store_->count_active();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->first, 7);
  EXPECT_EQ(counts->second, 1);
  EXPECT_EQ(messages_for(running), 1);  // only its creation's message
}

TEST_P(TaskStoreTest, AStaleQueuedTaskIsSentAgainOnceAndOnlyWhenTheOutboxIsNotBehind) {
  Task lost = create(alice_, agent_a_);
  Task other = create(bob_, agent_b_);
  EXPECT_EQ(store_->republish_stale(clock_.now() - 60s, 100).value_or(9), 0u) << "not stale yet";
  clock_.advance(61s);
  // Their messages were never sent: the outbox is behind, new rows would only pile up.
  EXPECT_EQ(store_->republish_stale(clock_.now() - 60s, 100).value_or(9), 0u);
  EXPECT_EQ(messages_for(lost), 1);
  ASSERT_TRUE((*db_)->transact({}, [](db::Tx& tx) {
    return tx.execute("UPDATE outbox SET published_at = created_at");
  }));  // sent, then lost by the broker

  claim(other);  // running: not queued, not sent again
  EXPECT_EQ(store_->republish_stale(clock_.now() - 60s, 100).value_or(9), 1u);
  EXPECT_EQ(messages_for(lost), 1);
  EXPECT_EQ(messages_for(other), 0);
  // Due from now: another sweep (this worker's or another's) does not send it again...
  EXPECT_EQ(store_->republish_stale(clock_.now() - 60s, 100).value_or(9), 0u);
  EXPECT_EQ(messages_for(lost), 1);
  // ...and a claim takes it once.
  EXPECT_EQ(claim(lost).task.attempts, 1);
  EXPECT_EQ(refusal(lost), ClaimRefusal::kNotClaimable);
}

TEST_P(TaskStoreTest, StaleQueuedListsOnlyTasksDueBeforeTheCutoffLongestDueFirst) {
  Task a_old = create(alice_, agent_a_);
  clock_.advance(1s);
  Task b_old = create(bob_, agent_b_);
  clock_.advance(1s);
  Task a_later = create(alice_, agent_a_);
  Task running = create(bob_, agent_b_);
  claim(running);
  Task retrying = create(alice_, agent_a_);
  claim(retrying);
  ASSERT_TRUE(store_->retry(ref(retrying), 1, "rate limited upstream", clock_.now() + 600s));
  clock_.advance(60s);
  create(bob_, agent_b_);  // queued after the cutoff
  clock_.advance(10s);

  auto ids = [](const Result<std::vector<TaskRef>>& refs) {
    std::vector<std::string> out;
    if (refs)
      for (const auto& r : *refs) out.push_back(r.id);
    return out;
  };
  const TimePoint cutoff = clock_.now() - 30s;
  EXPECT_EQ(ids(store_->stale_queued(cutoff, 10)),
            (std::vector<std::string>{a_old.id, b_old.id, a_later.id}))
      << "not running, not due later (a retry's back-off), not queued since after the cutoff";
  EXPECT_EQ(ids(store_->stale_queued(cutoff, 2)), (std::vector<std::string>{a_old.id, b_old.id}));
  auto refs = store_->stale_queued(cutoff, 1);
  ASSERT_TRUE(refs);
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].organization_id, org_a_);
  EXPECT_TRUE(ids(store_->stale_queued(clock_.now() - 600s, 10)).empty());
}

TEST_P(TaskStoreTest, ATaskDeferredForItsBusyTenantIsNotTakenForStale) {
  Task running = create(alice_, agent_a_);
  Task waiting = create(alice_, agent_a_);
  claim(running);
  clock_.advance(61s);
  EXPECT_EQ(refusal(waiting, 1), ClaimRefusal::kDeferred);  // a message after busy_delay (1 s)
  ASSERT_TRUE((*db_)->transact(
      {}, [](db::Tx& tx) { return tx.execute("UPDATE outbox SET published_at = created_at"); }));
  clock_.advance(2s);
  EXPECT_EQ(store_->republish_stale(clock_.now() - 60s, 100).value_or(9), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskStoreTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

// PostgreSQL checks a task's agent with triggers around a per-agent advisory lock instead of a
// foreign key (migrations/postgres/0009): a create and a deletion of its agent, each caught in
// the middle by the other, in both orders. The two run on the application's and the owner's
// connections (two pools, also through PgBouncer); the one held open watches, from inside its
// transaction, for the other to wait on the lock.
class TaskAgentLockTest : public TaskStoreTest {
 protected:
  // Transactions of this database waiting for an advisory lock.
  static std::int64_t advisory_waiters(db::Tx& tx) {
    auto n = tx.query_one(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())");
    return n && *n ? (**n).integer(0) : -1;
  }
  static bool advisory_lock_awaited(db::Tx& tx) { return advisory_waiters(tx) > 0; }

  std::future<Result<Created>> create_async(TaskStore& store, const Principal& who,
                                            const std::string& agent) {
    return std::async(std::launch::async, [this, &store, &who, agent] {
      return store.create(who, {agent, nlohmann::json::object()}, limits_);
    });
  }

  // In `tx`, which then holds agent_a_'s lock as deleting it would: creates for agent_a_ through
  // `store`, one per writer of organization A's lane, each waiting in its insert's check. Empty
  // when the transaction was retried (the creates are on their way).
  std::vector<std::future<Result<Created>>> occupy_writers(db::Tx& tx, TaskStore& store) {
    std::vector<std::future<Result<Created>>> blocked;
    if (!tx.query("SELECT pg_advisory_xact_lock(agent_lock_key($1))", {agent_a_})) return blocked;
    if (occupied_) return blocked;
    occupied_ = true;
    for (std::int64_t writer = 1; writer <= 2; ++writer) {
      blocked.push_back(create_async(store, alice_, agent_a_));
      EXPECT_TRUE(testing::eventually([&] { return advisory_waiters(tx) == writer; }, 10s))
          << "writer " << writer << " did not wait for the lock";
    }
    return blocked;
  }
  bool occupied_ = false;

  // The creates occupy_writers() sent: each was created once the lock was released.
  static void expect_created(std::vector<std::future<Result<Created>>>& blocked) {
    ASSERT_EQ(blocked.size(), 2u);
    for (auto& f : blocked) {
      auto c = f.get();
      EXPECT_TRUE(c) << c.error().detail;
    }
  }

  Result<std::int64_t> delete_agent(db::Tx& tx, const std::string& agent) {
    return tx.execute("DELETE FROM agents WHERE organization_id = $1 AND id = $2", {org_a_, agent});
  }

  std::int64_t tasks_of(const std::string& agent) {
    auto n = (*db_)->transact({.tenant = org_a_, .read_only = true}, [&](db::Tx& tx) {
      return tx.query_one("SELECT COUNT(*) FROM tasks WHERE agent_id = $1", {agent});
    });
    EXPECT_TRUE(n && *n);
    return n && *n ? (**n).integer(0) : -1;
  }
};

TEST_P(TaskAgentLockTest, DeletingAnAgentWaitsForACreateInFlightThenDeletesItsTask) {
  std::thread deleter;
  std::optional<Result<std::int64_t>> deleted;
  auto inserted = db_->app->transact({.tenant = org_a_}, [&](db::Tx& tx) -> Result<void> {
    auto r = tx.execute(
        "INSERT INTO tasks (id, organization_id, agent_id, status, created_at)"
        " VALUES ($1, $2, $3, 'queued', $4)",
        {new_id(), org_a_, agent_a_, format_time(clock_.now())});
    if (!r) return fail(r.error());
    if (!deleter.joinable()) {
      deleter = std::thread([&] {
        deleted = (*db_)->transact({.tenant = org_a_},
                                   [&](db::Tx& d) { return delete_agent(d, agent_a_); });
      });
    }
    EXPECT_TRUE(testing::eventually([&] { return advisory_lock_awaited(tx); }, 10s))
        << "the deletion did not wait for the task being inserted";
    return {};
  });
  deleter.join();
  ASSERT_TRUE(inserted) << inserted.error().detail;
  ASSERT_TRUE(deleted && *deleted) << (deleted ? deleted->error().detail : "");
  EXPECT_EQ(**deleted, 1);
  EXPECT_EQ(tasks_of(agent_a_), 0) << "a task outlived its agent";
}

TEST_P(TaskAgentLockTest, ACreateWaitsForTheDeletionOfItsAgentInFlightThenFindsItGone) {
  TaskStore app_store(*db_->app, clock_);
  std::thread creator;
  std::optional<Result<Created>> created;
  auto deleted = (*db_)->transact({.tenant = org_a_}, [&](db::Tx& tx) -> Result<std::int64_t> {
    auto n = delete_agent(tx, agent_a_);
    if (!n) return n;
    // The create's insert, whose check would still find the agent (the deletion is not
    // committed), waits for it.
    if (!creator.joinable()) {
      creator = std::thread([&] { created = app_store.create(alice_, {agent_a_}, limits_); });
    }
    EXPECT_TRUE(testing::eventually([&] { return advisory_lock_awaited(tx); }, 10s))
        << "the task's insert did not wait for the deletion of its agent";
    return n;
  });
  creator.join();
  ASSERT_TRUE(deleted) << deleted.error().detail;
  EXPECT_EQ(*deleted, 1);
  ASSERT_TRUE(created);
  ASSERT_FALSE(*created) << "a task was created for a deleted agent";
  EXPECT_EQ(created->error().code, Code::kNotFound);
  EXPECT_EQ(tasks_of(agent_a_), 0);
}

// Creates that queue while both writers of their lane are busy go in one transaction. One of
// them names a missing agent, which on PostgreSQL only the insert's check finds (the agent is not
// read first): that rolls the batch back, and each create then runs alone — the others are
// created, it alone answers kNotFound. Direct PostgreSQL: through the test PgBouncer's single
// server connection the second writer waits for the connection, not for the lock held here.
TEST_P(TaskAgentLockTest, ABatchWithAMissingAgentIsAnsweredAsEachCreateAlone) {
  if (GetParam().name != "postgres") GTEST_SKIP() << "needs two server connections";
  TaskStore app_store(*db_->app, clock_);
  const std::string agent_c = testing::add_agent(**db_, org_a_, "echo");
  std::vector<std::future<Result<Created>>> blocked, batch;
  auto held = (*db_)->transact({.tenant = org_a_}, [&](db::Tx& tx) -> Result<void> {
    if (auto occupied = occupy_writers(tx, app_store); !occupied.empty()) {
      blocked = std::move(occupied);
      for (int i = 0; i < 3; ++i) batch.push_back(create_async(app_store, alice_, agent_c));
      batch.push_back(create_async(app_store, alice_, new_id()));  // no such agent
      EXPECT_TRUE(testing::eventually([&] { return app_store.creates_waiting(org_a_) == 4; }, 10s))
          << "the creates did not wait for a writer";
    }
    return {};
  });
  ASSERT_TRUE(held) << held.error().detail;
  expect_created(blocked);
  ASSERT_EQ(batch.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    auto c = batch[i].get();
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(messages_for(c->task), 1);
  }
  auto missing = batch[3].get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(tasks_of(agent_c), 3);
  EXPECT_EQ(tasks_of(agent_a_), 2);
}

// An organization whose creates are held up (its lane's writers both wait) does not hold up
// another organization's, in another lane.
TEST_P(TaskAgentLockTest, AnotherOrganizationsCreatesAreNotHeldUpByABusyOne) {
  if (GetParam().name != "postgres") GTEST_SKIP() << "needs two server connections";
  TaskStore app_store(*db_->app, clock_);
  std::string other = org_b_;
  for (int i = 0; app_store.create_lane(other) == app_store.create_lane(org_a_); ++i) {
    ASSERT_LT(i, 100) << "every organization falls in one lane";
    other = testing::add_organization(**db_, "other " + std::to_string(i));
  }
  const std::string agent = testing::add_agent(**db_, other, "echo");
  const Principal carol = testing::member_of(other);
  std::vector<std::future<Result<Created>>> blocked;
  auto held = (*db_)->transact({.tenant = org_a_}, [&](db::Tx& tx) -> Result<void> {
    if (auto occupied = occupy_writers(tx, app_store); !occupied.empty()) {
      blocked = std::move(occupied);
      auto c = create_async(app_store, carol, agent);
      EXPECT_TRUE(
          testing::eventually([&] { return c.wait_for(0s) == std::future_status::ready; }, 10s))
          << "the other organization's create waited for the busy one's";
      auto created = c.get();
      EXPECT_TRUE(created) << created.error().detail;
    }
    return {};
  });
  ASSERT_TRUE(held) << held.error().detail;
  expect_created(blocked);
}

TEST_P(TaskAgentLockTest, ATaskNamesAnExistingAgentOfItsOwnOrganization) {
  for (const std::string& agent : {agent_b_, new_id()}) {
    auto r = db_->app->transact({.tenant = org_a_}, [&](db::Tx& tx) {
      return tx.execute(
          "INSERT INTO tasks (id, organization_id, agent_id, status, created_at)"
          " VALUES ($1, $2, $3, 'queued', $4)",
          {new_id(), org_a_, agent, format_time(clock_.now())});
    });
    ASSERT_FALSE(r) << "a task of A names agent " << agent;
    EXPECT_EQ(r.error().code, Code::kConflict);
  }
  Task t = create(alice_, agent_a_);
  auto moved = db_->app->transact({.tenant = org_a_}, [&](db::Tx& tx) {
    return tx.execute("UPDATE tasks SET agent_id = $1 WHERE id = $2", {new_id(), t.id});
  });
  ASSERT_FALSE(moved) << "a task was moved to an agent that does not exist";
  EXPECT_EQ(moved.error().code, Code::kConflict);
  auto renamed = db_->app->transact({.tenant = org_a_}, [&](db::Tx& tx) {
    return tx.execute("UPDATE agents SET id = $1 WHERE id = $2", {new_id(), agent_a_});
  });
  ASSERT_FALSE(renamed) << "an agent's id changed under its tasks";
  EXPECT_EQ(renamed.error().code, Code::kConflict);
}

TEST_P(TaskAgentLockTest, DeletingAnOrganizationDeletesItsAgentsTasks) {
  create(alice_, agent_a_);
  const std::string second = testing::add_agent(**db_, org_a_, "echo");
  create(alice_, second);
  create(bob_, agent_b_);
  auto gone = db_->app->transact({.tenant = org_a_}, [&](db::Tx& tx) {
    return tx.execute("DELETE FROM organizations WHERE id = $1", {org_a_});
  });
  ASSERT_TRUE(gone) << gone.error().detail;
  EXPECT_EQ(*gone, 1);
  EXPECT_EQ(tasks_of(agent_a_), 0);
  EXPECT_EQ(tasks_of(second), 0);
  auto bobs = store_->list(bob_, {});
  ASSERT_TRUE(bobs);
  EXPECT_EQ(bobs->size(), 1u);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TaskAgentLockTest);
INSTANTIATE_TEST_SUITE_P(Backends, TaskAgentLockTest, ::testing::ValuesIn(testing::rls_backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::tasks
