// Group commit: a lone item is written at once and alone; items that arrive while a batch is
// written go together in the next one; several writers write side by side, never more than
// their limit; every submitter gets its own result.
#include "tasks/group_commit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "support/eventually.hpp"

namespace atrium::tasks {
namespace {

using Commit = GroupCommit<int, std::string>;

TEST(GroupCommitTest, ALoneItemIsWrittenAtOnceAndAlone) {
  Commit commit(8);
  std::vector<std::size_t> sizes;
  auto out = commit.submit(7, "", [&](std::span<Commit::Slot* const> batch) {
    sizes.push_back(batch.size());
    for (auto* s : batch) s->out = "wrote " + std::to_string(s->in);
  });
  EXPECT_EQ(out, "wrote 7");
  EXPECT_EQ(sizes, std::vector<std::size_t>{1});
}

TEST(GroupCommitTest, ItemsArrivingDuringAWriteGoTogetherInTheNextBatch) {
  Commit commit(8);
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto write = [&](std::span<Commit::Slot* const> batch) {
    std::vector<int> items;
    for (auto* s : batch) {
      items.push_back(s->in);
      s->out = "wrote " + std::to_string(s->in);
    }
    bool first;
    {
      std::lock_guard lock(mu);
      first = batches.empty();
      batches.push_back(items);
    }
    if (first) released.wait();  // the first write takes long: others queue up behind it
  };

  auto first = std::async(std::launch::async, [&] { return commit.submit(0, "", write); });
  ASSERT_TRUE(testing::eventually([&] {
    std::lock_guard lock(mu);
    return batches.size() == 1;
  }));
  std::vector<std::future<std::string>> later;
  for (int i = 1; i <= 3; ++i) {
    later.push_back(std::async(std::launch::async, [&, i] { return commit.submit(i, "", write); }));
  }
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 3; }));
  release.set_value();

  EXPECT_EQ(first.get(), "wrote 0");
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(later[i - 1].get(), "wrote " + std::to_string(i));
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<int>{0});
  std::sort(batches[1].begin(), batches[1].end());
  EXPECT_EQ(batches[1], (std::vector<int>{1, 2, 3}));
}

TEST(GroupCommitTest, ABatchHoldsAtMostItsLimit) {
  Commit commit(2);
  std::mutex mu;
  std::vector<std::size_t> sizes;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto write = [&](std::span<Commit::Slot* const> batch) {
    for (auto* s : batch) s->out = std::to_string(s->in);
    bool first;
    {
      std::lock_guard lock(mu);
      first = sizes.empty();
      sizes.push_back(batch.size());
    }
    if (first) released.wait();
  };
  auto first = std::async(std::launch::async, [&] { return commit.submit(0, "", write); });
  ASSERT_TRUE(testing::eventually([&] {
    std::lock_guard lock(mu);
    return sizes.size() == 1;
  }));
  std::vector<std::future<std::string>> later;
  for (int i = 1; i <= 5; ++i) {
    later.push_back(std::async(std::launch::async, [&, i] { return commit.submit(i, "", write); }));
  }
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 5; }));
  release.set_value();
  EXPECT_EQ(first.get(), "0");
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(later[i - 1].get(), std::to_string(i));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 2, 2, 1}));
}

TEST(GroupCommitTest, SeveralWritersWriteSideBySideAndNoMore) {
  Commit commit(8, 2);
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto write = [&](std::span<Commit::Slot* const> batch) {
    std::vector<int> items;
    for (auto* s : batch) {
      items.push_back(s->in);
      s->out = "wrote " + std::to_string(s->in);
    }
    {
      std::lock_guard lock(mu);
      batches.push_back(items);
    }
    released.wait();  // every write takes long until released
  };
  auto written = [&] {
    std::lock_guard lock(mu);
    return batches.size();
  };

  std::vector<std::future<std::string>> out;
  out.push_back(std::async(std::launch::async, [&] { return commit.submit(0, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return written() == 1; }));
  // A second item is written at once although the first write has not ended.
  out.push_back(std::async(std::launch::async, [&] { return commit.submit(1, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return written() == 2; }));
  // Both writers busy: the next items wait, and go together.
  for (int i = 2; i <= 3; ++i)
    out.push_back(std::async(std::launch::async, [&, i] { return commit.submit(i, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 2; }));
  EXPECT_EQ(written(), 2u);
  release.set_value();

  for (int i = 0; i <= 3; ++i) EXPECT_EQ(out[i].get(), "wrote " + std::to_string(i));
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], std::vector<int>{0});
  EXPECT_EQ(batches[1], std::vector<int>{1});
  std::sort(batches[2].begin(), batches[2].end());
  EXPECT_EQ(batches[2], (std::vector<int>{2, 3}));
}

}  // namespace
}  // namespace atrium::tasks
