#include "identity/hash_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;

TEST(HashPool, RunsJobsAndWaitsForThem) {
  HashPool pool({.threads = 2, .queue_limit = 4});
  std::atomic<int> sum{0};
  std::vector<std::future<Result<void>>> results;
  for (int i = 1; i <= 4; ++i)
    results.push_back(
        std::async(std::launch::async, [&, i] { return pool.run([&, i] { sum += i; }); }));
  for (auto& r : results) EXPECT_TRUE(r.get());
  EXPECT_EQ(sum.load(), 10);
}

TEST(HashPool, RefusesAtOnceWhenTheQueueIsFull) {
  HashPool pool({.threads = 1, .queue_limit = 1});
  std::latch started(1);
  std::promise<void> release;
  auto gate = release.get_future().share();
  // One job runs (blocked), one waits in the queue.
  auto running = std::async(std::launch::async, [&] {
    return pool.run([&] {
      started.count_down();
      gate.wait();
    });
  });
  started.wait();
  auto queued = std::async(std::launch::async, [&] { return pool.run([] {}); });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pool.queued() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_EQ(pool.queued(), 1u);

  auto refused = pool.run([] { ADD_FAILURE() << "a refused job ran"; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kUnavailable);
  EXPECT_EQ(refused.error().retry_after_seconds, 1);
  EXPECT_EQ(pool.refused(), 1u);

  release.set_value();
  EXPECT_TRUE(running.get());
  EXPECT_TRUE(queued.get());
}

TEST(HashPool, DropsJobsThatWaitTooLong) {
  HashPool pool({.threads = 1, .queue_limit = 4, .max_wait = 50ms});
  std::latch started(1);
  std::promise<void> release;
  auto gate = release.get_future().share();
  auto running = std::async(std::launch::async, [&] {
    return pool.run([&] {
      started.count_down();
      gate.wait();
    });
  });
  started.wait();
  std::atomic<bool> ran{false};
  auto late = pool.run([&] { ran = true; });  // waits ≥ 50 ms behind the blocked job, then gives up
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Code::kUnavailable);
  release.set_value();
  EXPECT_TRUE(running.get());
  EXPECT_TRUE(pool.run([] {}));
  EXPECT_FALSE(ran.load());
}

TEST(HashPool, PropagatesExceptions) {
  HashPool pool({.threads = 1, .queue_limit = 1});
  EXPECT_THROW((void)pool.run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_TRUE(pool.run([] {}));
}

}  // namespace
}  // namespace atrium::identity
