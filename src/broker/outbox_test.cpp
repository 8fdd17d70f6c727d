// The outbox and its relay on every database backend.
#include "broker/outbox.hpp"

#include <gtest/gtest.h>

#include "broker/embedded/embedded_task_queue.hpp"
#include "db/migrations.hpp"
#include "support/backends.hpp"
#include "support/fake_clock.hpp"

namespace atrium::broker {
namespace {

using namespace std::chrono_literals;
using testing::Backend;

// A queue that refuses while `down` is set, and otherwise forwards to an embedded queue.
class FlakyQueue final : public TaskQueue {
 public:
  bool down = false;
  EmbeddedTaskQueue inner;

  Result<void> publish(std::span<const QueueMessage> batch) override {
    if (down) return fail(Error::unavailable("broker down"));
    return inner.publish(batch);
  }
  Result<std::unique_ptr<Consumer>> consume(const ConsumerOptions& o) override {
    return inner.consume(o);
  }
  bool durable() const override { return false; }
  std::optional<std::size_t> depth() const override { return inner.depth(); }
  Result<void> ping() override { return inner.ping(); }
};

// Forwards to a database and counts its transactions.
class CountingDatabase final : public db::Database {
 public:
  explicit CountingDatabase(db::Database& inner) : inner_(inner) {}
  int transactions = 0;

  std::string_view dialect() const override { return inner_.dialect(); }
  Result<void> ping() override { return inner_.ping(); }
  Result<void> lock_for_migration(db::Tx& tx) override { return inner_.lock_for_migration(tx); }

 protected:
  Result<void> run(const db::TxOptions& options,
                   const std::function<Result<void>(db::Tx&)>& body) override {
    ++transactions;
    return inner_.transact(options, body);
  }

 private:
  db::Database& inner_;
};

class OutboxTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
    consumer_ = std::move(*queue_.consume({.prefetch = 1000}));
  }

  void TearDown() override { consumer_.reset(); }

  Result<void> add(std::string_view key, std::string_view body, TimePoint available_at,
                   bool commit = true) {
    return (*db_)->transact({}, [&](db::Tx& tx) -> Result<void> {
      auto id = add_to_outbox(tx, "tasks", key, body, clock_.now(), available_at);
      if (!id) return fail(id.error());
      if (!commit) return fail(Error::conflict("roll back"));
      return {};
    });
  }

  std::vector<QueueMessage> drain() {
    std::vector<QueueMessage> out;
    for (;;) {
      auto d = consumer_->next(0ms);
      if (!d || !*d) return out;
      out.push_back((*d)->message);
      EXPECT_TRUE(consumer_->ack((*d)->tag));
    }
  }

  std::int64_t count(const std::string& sql) {
    auto n = (*db_)->transact({}, [&](db::Tx& tx) -> Result<std::int64_t> {
      auto row = tx.query_one(sql);
      if (!row) return fail(row.error());
      return (*row)->integer(0);
    });
    return n.value_or(-1);
  }
  std::int64_t unsent() { return count("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"); }
  std::int64_t rows() { return count("SELECT COUNT(*) FROM outbox"); }

  std::unique_ptr<testing::TestDatabase> db_;
  testing::FakeClock clock_;
  FlakyQueue queue_;
  std::unique_ptr<TaskQueue::Consumer> consumer_;
};

TEST_P(OutboxTest, RelaysCommittedRowsInOrderOnce) {
  ASSERT_TRUE(add("org-a", R"({"n":1})", clock_.now()));
  ASSERT_TRUE(add("org-b", R"({"n":2})", clock_.now()));
  ASSERT_FALSE(add("org-a", R"({"n":3})", clock_.now(), /*commit=*/false));
  OutboxRelay relay(**db_, queue_, clock_, {});
  auto sent = relay.relay_due();
  ASSERT_TRUE(sent);
  EXPECT_EQ(*sent, 2u);
  auto got = drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "org-a");
  EXPECT_EQ(got[0].body, R"({"n":1})");
  EXPECT_EQ(got[1].key, "org-b");
  EXPECT_FALSE(got[0].id.empty());
  EXPECT_EQ(rows(), 0) << "a sent row was kept";
  EXPECT_EQ(relay.relay_due().value_or(99), 0u);
  EXPECT_TRUE(drain().empty());
}

TEST_P(OutboxTest, HoldsRowsBackUntilTheyAreDue) {
  ASSERT_TRUE(add("org-a", "{}", clock_.now() + 10s));
  OutboxRelay relay(**db_, queue_, clock_, {});
  EXPECT_EQ(relay.relay_due().value_or(99), 0u);
  clock_.advance(9s);
  EXPECT_EQ(relay.relay_due().value_or(99), 0u);
  clock_.advance(1s);
  EXPECT_EQ(relay.relay_due().value_or(99), 1u);
  EXPECT_EQ(drain().size(), 1u);
}

TEST_P(OutboxTest, KeepsRowsUnsentWhileTheQueueRefuses) {
  ASSERT_TRUE(add("org-a", "{}", clock_.now()));
  OutboxRelay relay(**db_, queue_, clock_, {});
  queue_.down = true;
  auto refused = relay.relay_due();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kUnavailable);
  EXPECT_EQ(unsent(), 1);
  queue_.down = false;
  EXPECT_EQ(relay.relay_due().value_or(99), 1u);
  EXPECT_EQ(drain().size(), 1u);
}

TEST_P(OutboxTest, SendsLargeBacklogsInBatches) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(add("k", std::to_string(i), clock_.now()));
  OutboxRelay relay(**db_, queue_, clock_, {.topic = "tasks", .batch = 10});
  EXPECT_EQ(relay.relay_due().value_or(99), 25u);
  auto got = drain();
  ASSERT_EQ(got.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(got[i].body, std::to_string(i));
}

// After the queue confirmed a batch, its rows are deleted in the transaction that reads the next
// batch (one round trip on PostgreSQL), not in a transaction of their own.
TEST_P(OutboxTest, DeletesEachBatchInTheTransactionThatReadsTheNext) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(add("k", std::to_string(i), clock_.now()));
  CountingDatabase counted(**db_);
  OutboxRelay relay(counted, queue_, clock_, {.topic = "tasks", .batch = 10});
  EXPECT_EQ(relay.relay_due().value_or(99), 25u);
  // Read 10; delete 10 and read 10; delete 10 and read 5; delete 5 and find none.
  EXPECT_EQ(counted.transactions, 4);
  EXPECT_EQ(rows(), 0);
  EXPECT_EQ(relay.sent(), 25u);
  EXPECT_EQ(drain().size(), 25u);
  // Nothing due: one read.
  counted.transactions = 0;
  EXPECT_EQ(relay.relay_due().value_or(99), 0u);
  EXPECT_EQ(counted.transactions, 1);
}

TEST_P(OutboxTest, PrunesOnlyRowsMarkedSentBeforeTheRetention) {
  // As a relay of an earlier release left them: marked sent, not deleted.
  ASSERT_TRUE(add("k", "old", clock_.now()));
  ASSERT_TRUE(add("k", "recent", clock_.now()));
  ASSERT_TRUE((*db_)->transact({}, [&](db::Tx& tx) {
    return tx.execute("UPDATE outbox SET published_at = $1 WHERE payload = 'old'",
                      {format_time(clock_.now())});
  }));
  clock_.advance(3000s);
  ASSERT_TRUE((*db_)->transact({}, [&](db::Tx& tx) {
    return tx.execute("UPDATE outbox SET published_at = $1 WHERE payload = 'recent'",
                      {format_time(clock_.now())});
  }));
  clock_.advance(601s);
  ASSERT_TRUE(add("k", "unsent", clock_.now() + 1h));
  OutboxRelay relay(**db_, queue_, clock_, {.retention = 3600s});
  EXPECT_EQ(relay.prune().value_or(99), 1u);
  EXPECT_EQ(rows(), 2);
  EXPECT_EQ(unsent(), 1);
  EXPECT_EQ(relay.prune().value_or(99), 0u);
}

TEST_P(OutboxTest, TheRelayThreadPublishesWhenNotified) {
  OutboxRelay relay(**db_, queue_, clock_, {.poll_interval = 60s});
  relay.start();
  ASSERT_TRUE(add("k", "now", clock_.now()));
  relay.notify();
  auto d = consumer_->next(10s);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->message.body, "now");
  relay.stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::broker
