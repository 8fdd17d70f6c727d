// Group commit: a lone item is written at once and alone; items that arrive while a batch is
// written go together in the next one; several writers write side by side, never more than
// their limit; every submitter gets its own result.
#include "tasks/group_commit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/eventually.hpp"

namespace atrium::tasks {
namespace {

using Commit = GroupCommit<int, std::string>;

// A write that answers "wrote N" for each item and records each batch's items; it holds its
// batch until released — the first batch only, or (`hold_all`) every one — so that others queue
// up behind it.
class HeldWrites {
 public:
  explicit HeldWrites(bool hold_all) : hold_all_(hold_all) {}

  void operator()(std::span<Commit::Slot* const> batch) {
    std::vector<int> items;
    for (auto* s : batch) {
      items.push_back(s->in);
      s->out = "wrote " + std::to_string(s->in);
    }
    bool first;
    {
      std::lock_guard lock(mu_);
      first = batches_.empty();
      batches_.push_back(items);
    }
    if (first || hold_all_) released_.wait();
  }

  std::size_t written() {
    std::lock_guard lock(mu_);
    return batches_.size();
  }
  void release() { release_.set_value(); }
  // Once every write has ended.
  std::vector<std::vector<int>>& batches() { return batches_; }

 private:
  const bool hold_all_;
  std::mutex mu_;
  std::vector<std::vector<int>> batches_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

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
  HeldWrites write(false);  // the first write takes long: others queue up behind it
  auto first = std::async(std::launch::async, [&] { return commit.submit(0, "", write); });
  ASSERT_TRUE(testing::eventually([&] { return write.written() == 1; }));
  std::vector<std::future<std::string>> later;
  for (int i = 1; i <= 3; ++i) {
    later.push_back(std::async(std::launch::async, [&, i] { return commit.submit(i, "", write); }));
  }
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 3; }));
  write.release();

  EXPECT_EQ(first.get(), "wrote 0");
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(later[i - 1].get(), "wrote " + std::to_string(i));
  auto& batches = write.batches();
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
  HeldWrites write(true);  // every write takes long until released
  std::vector<std::future<std::string>> out;
  out.push_back(std::async(std::launch::async, [&] { return commit.submit(0, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return write.written() == 1; }));
  // A second item is written at once although the first write has not ended.
  out.push_back(std::async(std::launch::async, [&] { return commit.submit(1, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return write.written() == 2; }));
  // Both writers busy: the next items wait, and go together.
  for (int i = 2; i <= 3; ++i)
    out.push_back(std::async(std::launch::async, [&, i] { return commit.submit(i, "", write); }));
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 2; }));
  EXPECT_EQ(write.written(), 2u);
  write.release();

  for (int i = 0; i <= 3; ++i) EXPECT_EQ(out[i].get(), "wrote " + std::to_string(i));
  auto& batches = write.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], std::vector<int>{0});
  EXPECT_EQ(batches[1], std::vector<int>{1});
  std::sort(batches[2].begin(), batches[2].end());
  EXPECT_EQ(batches[2], (std::vector<int>{2, 3}));
}

TEST(GroupCommitTest, AWriteThatThrowsEndsItsBatchAndTheNextOnesAreWritten) {
  Commit commit(8);
  HeldWrites held(false);
  auto first = std::async(std::launch::async, [&] { return commit.submit(0, "", held); });
  ASSERT_TRUE(testing::eventually([&] { return held.written() == 1; }));
  // Two items queue behind the held write; whichever thread writes them throws.
  auto throwing = [](std::span<Commit::Slot* const> batch) {
    for (auto* s : batch) s->out = "half written";
    throw std::runtime_error("write failed");
  };
  std::vector<std::future<std::string>> later;
  for (int i = 1; i <= 2; ++i) {
    later.push_back(std::async(std::launch::async, [&, i] {
      try {
        return commit.submit(i, "not written", throwing);
      } catch (const std::runtime_error& e) {
        return std::string("threw: ") + e.what();
      }
    }));
  }
  ASSERT_TRUE(testing::eventually([&] { return commit.waiting() == 2; }));
  held.release();
  EXPECT_EQ(first.get(), "wrote 0");
  std::multiset<std::string> outs{later[0].get(), later[1].get()};
  // The writer's own item leaves with the exception; the other keeps what the write set.
  EXPECT_EQ(outs, (std::multiset<std::string>{"half written", "threw: write failed"}));
  // Nothing is left waiting or writing: the next item is written at once.
  EXPECT_EQ(commit.waiting(), 0u);
  EXPECT_EQ(commit.submit(3, "", held), "wrote 3");
}

}  // namespace
}  // namespace atrium::tasks
