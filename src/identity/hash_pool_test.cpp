#include "identity/hash_pool.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

struct ThreadPriority {
  int policy = -1;
  int nice = 0;
  std::uint64_t slice_ns = 0;  // 0 where the kernel reports none (before Linux 6.12)
};

ThreadPriority priority_of_this_thread() {
  ThreadPriority p;
  sched_param param{};
  pthread_getschedparam(pthread_self(), &p.policy, &param);
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  p.nice = getpriority(PRIO_PROCESS, tid);
  // sched_getattr(2), the first version of struct sched_attr (48 bytes).
  struct {
    std::uint32_t size, policy;
    std::uint64_t flags;
    std::int32_t nice;
    std::uint32_t priority;
    std::uint64_t runtime, deadline, period;
  } attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0u) == 0) p.slice_ns = attr.runtime;
  return p;
}

TEST(HashPool, HashesAtLowPriorityWithAShortSlice) {
  const ThreadPriority caller = priority_of_this_thread();
  HashPool pool({.threads = 1, .queue_limit = 1, .nice = 10});
  ThreadPriority worker;
  ASSERT_TRUE(pool.run([&] { worker = priority_of_this_thread(); }));
  EXPECT_EQ(worker.policy, SCHED_OTHER);
  EXPECT_EQ(worker.nice, 10);
  // Kernels that schedule with custom slices report them; the others report 0 or their default.
  if (caller.slice_ns != 0) {
    EXPECT_EQ(worker.slice_ns, 100'000u);
  }
  EXPECT_EQ(priority_of_this_thread().nice, caller.nice) << "the caller's priority changed";
}

TEST(HashPool, IdleHashesOnlyOnCpuTimeNothingElseWants) {
  HashPool pool({.threads = 1, .queue_limit = 1, .nice = 10, .idle = true});
  ThreadPriority worker;
  ASSERT_TRUE(pool.run([&] { worker = priority_of_this_thread(); }));
  EXPECT_EQ(worker.policy, SCHED_IDLE);
  EXPECT_NE(priority_of_this_thread().policy, SCHED_IDLE);
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
