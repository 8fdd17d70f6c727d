#include "platform/work_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace atrium {
namespace {

TEST(WorkQueue, RunsEverythingPosted) {
  std::atomic<int> done{0};
  {
    WorkQueue q(2, 100);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(q.post([&] { done.fetch_add(1); }));
  }  // the destructor drains
  EXPECT_EQ(done.load(), 50);
}

TEST(WorkQueue, RefusesBeyondCapacity) {
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> started;
  WorkQueue q(1, 2);
  ASSERT_TRUE(q.post([&, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the only thread is busy now
  EXPECT_TRUE(q.post([] {}));
  EXPECT_TRUE(q.post([] {}));
  EXPECT_FALSE(q.post([] {}));
  release.set_value();
}

TEST(WorkQueue, SurvivesThrowingWork) {
  std::atomic<int> done{0};
  {
    WorkQueue q(1, 10);
    ASSERT_TRUE(q.post([] { throw std::runtime_error("x"); }));
    ASSERT_TRUE(q.post([&] { done.fetch_add(1); }));
  }
  EXPECT_EQ(done.load(), 1);
}

}  // namespace
}  // namespace atrium
