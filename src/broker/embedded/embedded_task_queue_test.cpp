#include "broker/embedded/embedded_task_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace atrium::broker {
namespace {

using namespace std::chrono_literals;

QueueMessage msg(std::string id, std::string key = "a") { return {id, std::move(key), "{}"}; }

void publish(TaskQueue& q, std::vector<QueueMessage> batch) { ASSERT_TRUE(q.publish(batch)); }

std::unique_ptr<TaskQueue::Consumer> consumer(TaskQueue& q, int prefetch = 100) {
  auto c = q.consume({.prefetch = prefetch});
  EXPECT_TRUE(c);
  return std::move(*c);
}

// The next delivery's message id, or "" when none is available now.
std::string next_id(TaskQueue::Consumer& c, std::uint64_t* tag = nullptr) {
  auto d = c.next(0ms);
  EXPECT_TRUE(d);
  if (!d || !*d) return "";
  if (tag) *tag = (*d)->tag;
  return (*d)->message.id;
}

TEST(EmbeddedTaskQueue, DeliversInOrderAndForgetsAcked) {
  EmbeddedTaskQueue q;
  publish(q, {msg("1"), msg("2"), msg("3")});
  EXPECT_EQ(q.depth(), 3u);
  auto c = consumer(q);
  for (const char* id : {"1", "2", "3"}) {
    auto d = c->next(0ms);
    ASSERT_TRUE(d && *d);
    EXPECT_EQ((*d)->message.id, id);
    EXPECT_EQ((*d)->delivery_count, 1);
    ASSERT_TRUE(c->ack((*d)->tag));
  }
  EXPECT_EQ(next_id(*c), "");
  EXPECT_EQ(q.depth(), 0u);
}

TEST(EmbeddedTaskQueue, TakesKeysInTurnSoABacklogDoesNotDelayOthers) {
  EmbeddedTaskQueue q;
  std::vector<QueueMessage> flood;
  for (int i = 0; i < 50; ++i) flood.push_back(msg("a" + std::to_string(i), "a"));
  publish(q, flood);
  publish(q, {msg("b0", "b"), msg("b1", "b")});
  auto c = consumer(q);
  EXPECT_EQ(next_id(*c), "a0");
  EXPECT_EQ(next_id(*c), "b0");
  EXPECT_EQ(next_id(*c), "a1");
  EXPECT_EQ(next_id(*c), "b1");
  EXPECT_EQ(next_id(*c), "a2");
}

TEST(EmbeddedTaskQueue, CapsUnackedDeliveriesPerKey) {
  EmbeddedTaskQueue q({.capacity = 100, .max_in_flight_per_key = 2, .delivery_limit = 10});
  publish(q, {msg("a0"), msg("a1"), msg("a2"), msg("a3"), msg("b0", "b")});
  auto c = consumer(q);
  std::uint64_t first = 0;
  EXPECT_EQ(next_id(*c, &first), "a0");
  EXPECT_EQ(next_id(*c), "b0");
  EXPECT_EQ(next_id(*c), "a1");
  EXPECT_EQ(next_id(*c), "");  // a is at its cap with a2, a3 waiting
  ASSERT_TRUE(c->ack(first));
  EXPECT_EQ(next_id(*c), "a2");
  EXPECT_EQ(next_id(*c), "");
}

TEST(EmbeddedTaskQueue, PrefetchBoundsAConsumersUnackedDeliveries) {
  EmbeddedTaskQueue q;
  publish(q, {msg("1"), msg("2")});
  auto c = consumer(q, 1);
  std::uint64_t tag = 0;
  EXPECT_EQ(next_id(*c, &tag), "1");
  EXPECT_EQ(next_id(*c), "");
  auto other = consumer(q, 1);
  EXPECT_EQ(next_id(*other), "2");
  ASSERT_TRUE(c->ack(tag));
  EXPECT_EQ(q.depth(), 0u);
}

TEST(EmbeddedTaskQueue, NackRequeuesFirstAndDeadLettersAtTheDeliveryLimitOrWithoutRequeue) {
  EmbeddedTaskQueue q({.capacity = 100, .max_in_flight_per_key = 0, .delivery_limit = 3});
  publish(q, {msg("poison"), msg("ok")});
  auto c = consumer(q, 1);
  for (int delivery = 1; delivery <= 3; ++delivery) {
    auto d = c->next(0ms);
    ASSERT_TRUE(d && *d);
    EXPECT_EQ((*d)->message.id, "poison");
    EXPECT_EQ((*d)->delivery_count, delivery);
    ASSERT_TRUE(c->nack((*d)->tag, /*requeue=*/true));
  }
  EXPECT_EQ(q.dropped(), 1u);
  std::uint64_t tag = 0;
  EXPECT_EQ(next_id(*c, &tag), "ok");
  ASSERT_TRUE(c->nack(tag, /*requeue=*/false));
  EXPECT_EQ(next_id(*c), "");
  EXPECT_EQ(q.dropped(), 2u);
  EXPECT_EQ(q.dead_letters(), 2u) << "rejected as by RabbitMQ: dead-lettered, not lost";
  auto dead = q.consume_dead_letters({.prefetch = 2});
  ASSERT_TRUE(dead);
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto d = (*dead)->next(0ms);
    ASSERT_TRUE(d && *d);
    ids.push_back((*d)->message.id);
    // A dead letter rejected in turn is dropped: there is no further queue.
    ASSERT_TRUE((*dead)->nack((*d)->tag, /*requeue=*/false));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"poison", "ok"}));
  EXPECT_EQ(q.dead_letters(), 0u);
  EXPECT_EQ(q.dropped(), 2u);
}

TEST(EmbeddedTaskQueue, AMessageDroppedAtTheDeliveryLimitWaitsInTheDeadLetters) {
  EmbeddedTaskQueue q({.capacity = 100, .max_in_flight_per_key = 0, .delivery_limit = 2});
  publish(q, {msg("poison", "org-a")});
  {
    auto c = consumer(q, 1);
    for (int delivery = 1; delivery <= 2; ++delivery) {
      auto d = c->next(0ms);
      ASSERT_TRUE(d && *d);
      ASSERT_TRUE(c->nack((*d)->tag, /*requeue=*/true));
    }
  }
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.dead_letters(), 1u);
  auto dead = q.consume_dead_letters({.prefetch = 1});
  ASSERT_TRUE(dead);
  auto d = (*dead)->next(0ms);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->message.id, "poison");
  EXPECT_EQ((*d)->message.key, "org-a");
  EXPECT_EQ((*d)->message.body, msg("poison", "org-a").body);
  ASSERT_TRUE((*dead)->ack((*d)->tag));
  EXPECT_EQ(q.dead_letters(), 0u);
  auto none = (*dead)->next(0ms);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(EmbeddedTaskQueue, AConsumerGoneReturnsItsUnackedMessages) {
  EmbeddedTaskQueue q;
  publish(q, {msg("1")});
  {
    auto c = consumer(q);
    EXPECT_EQ(next_id(*c), "1");
  }
  auto again = consumer(q);
  auto d = again->next(0ms);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->message.id, "1");
  EXPECT_EQ((*d)->delivery_count, 2);
}

TEST(EmbeddedTaskQueue, RefusesBeyondCapacityAsAWholeBatch) {
  EmbeddedTaskQueue q({.capacity = 3, .max_in_flight_per_key = 0, .delivery_limit = 10});
  publish(q, {msg("1"), msg("2")});
  std::vector<QueueMessage> two{msg("3"), msg("4")};
  auto full = q.publish(two);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Code::kUnavailable);
  EXPECT_EQ(q.depth(), 2u);
  auto c = consumer(q);
  std::uint64_t tag = 0;
  EXPECT_EQ(next_id(*c, &tag), "1");
  EXPECT_FALSE(q.publish(two));  // unacked messages still count
  ASSERT_TRUE(c->ack(tag));
  EXPECT_TRUE(q.publish(two));
}

TEST(EmbeddedTaskQueue, CloseWakesWaitingConsumers) {
  EmbeddedTaskQueue q;
  auto c = consumer(q);
  std::atomic<bool> returned{false};
  Result<std::optional<Delivery>> got = std::optional<Delivery>();
  std::thread t([&] {
    got = c->next(60s);
    returned = true;
  });
  q.close();
  t.join();
  EXPECT_TRUE(returned);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kUnavailable);
  EXPECT_FALSE(q.ping());
  std::vector<QueueMessage> one{msg("1")};
  EXPECT_FALSE(q.publish(one));
}

TEST(EmbeddedTaskQueue, WakeEndsAWaitingNextAndOnlyThat) {
  EmbeddedTaskQueue q;
  auto c = consumer(q);
  const auto started = std::chrono::steady_clock::now();
  std::thread t([&] { c->wake(); });  // before or while next() waits: it returns either way
  auto woken = c->next(60s);
  t.join();
  ASSERT_TRUE(woken);
  EXPECT_FALSE(*woken);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  publish(q, {msg("1")});
  EXPECT_EQ(next_id(*c), "1") << "a wake is used up by one next()";
}

TEST(EmbeddedTaskQueue, AckAllAcknowledgesEachOfItsTags) {
  EmbeddedTaskQueue q;
  publish(q, {msg("1"), msg("2"), msg("3")});
  std::uint64_t t1 = 0, t2 = 0, t3 = 0;
  {
    auto c = consumer(q);
    EXPECT_EQ(next_id(*c, &t1), "1");
    EXPECT_EQ(next_id(*c, &t2), "2");
    EXPECT_EQ(next_id(*c, &t3), "3");
    ASSERT_TRUE(c->ack_all(std::vector<std::uint64_t>{t3, t1, 987654}));
  }
  auto again = consumer(q);
  EXPECT_EQ(next_id(*again), "2");
  EXPECT_EQ(next_id(*again), "");
}

TEST(EmbeddedTaskQueue, ConcurrentProducersAndConsumersDeliverEachMessageOnce) {
  EmbeddedTaskQueue q({.capacity = 100000, .max_in_flight_per_key = 2, .delivery_limit = 10});
  constexpr int kProducers = 4, kPerProducer = 2000, kConsumers = 4;
  std::mutex mu;
  std::multiset<std::string> seen;
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      auto consumer = q.consume({.prefetch = 3});
      ASSERT_TRUE(consumer);
      while (acked.load() < kProducers * kPerProducer) {
        auto d = (*consumer)->next(50ms);
        ASSERT_TRUE(d);
        if (!*d) continue;
        {
          std::lock_guard l(mu);
          seen.insert((*d)->message.id);
        }
        ASSERT_TRUE((*consumer)->ack((*d)->tag));
        ++acked;
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        std::vector<QueueMessage> one{
            msg(std::to_string(p) + "-" + std::to_string(i), "k" + std::to_string(i % 7))};
        ASSERT_TRUE(q.publish(one));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kProducers * kPerProducer));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  EXPECT_EQ(q.depth(), 0u);
}

}  // namespace
}  // namespace atrium::broker
