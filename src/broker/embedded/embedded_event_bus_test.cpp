#include "broker/embedded/embedded_event_bus.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace atrium::broker {
namespace {

using namespace std::chrono_literals;

// Collects payloads and lets the test wait for a count, with a deadline.
class Collector {
 public:
  void add(const Event& e) {
    std::lock_guard l(mu_);
    got_.push_back(e.payload);
    cv_.notify_all();
  }
  std::vector<std::string> wait_for(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return got_.size() >= n; });
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> got_;
};

TEST(EmbeddedEventBus, DeliversInOrderToMatchingSubscribers) {
  EmbeddedEventBus bus;
  Collector all, tenant_a, other_topic;
  auto s1 = bus.subscribe({"task.status", std::nullopt}, [&](const Event& e) { all.add(e); });
  auto s2 = bus.subscribe({"task.status", "a"}, [&](const Event& e) { tenant_a.add(e); });
  auto s3 =
      bus.subscribe({"auth.revoke", std::nullopt}, [&](const Event& e) { other_topic.add(e); });
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(bus.publish({"task.status", i % 2 ? "a" : "b", std::to_string(i)}));
  ASSERT_TRUE(bus.publish({"auth.revoke", "", "r"}));

  auto got = all.wait_for(100);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], std::to_string(i));
  auto a = tenant_a.wait_for(50);
  ASSERT_EQ(a.size(), 50u);
  EXPECT_EQ(a.front(), "1");
  EXPECT_EQ(other_topic.wait_for(1), std::vector<std::string>{"r"});
}

TEST(EmbeddedEventBus, UnsubscribedHandlersStopReceiving) {
  EmbeddedEventBus bus;
  Collector before, after;
  auto keep = bus.subscribe({"t", std::nullopt}, [&](const Event& e) { after.add(e); });
  {
    auto gone = bus.subscribe({"t", std::nullopt}, [&](const Event& e) { before.add(e); });
    ASSERT_TRUE(bus.publish({"t", "", "1"}));
    ASSERT_EQ(before.wait_for(1).size(), 1u);
  }
  ASSERT_TRUE(bus.publish({"t", "", "2"}));
  ASSERT_EQ(after.wait_for(2).size(), 2u);        // the later event was delivered…
  EXPECT_EQ(before.wait_for(2, 0ms).size(), 1u);  // …but not to the removed handler
}

TEST(EmbeddedEventBus, FullQueueRefusesInsteadOfGrowing) {
  std::mutex gate;
  std::unique_lock hold(gate);
  EmbeddedEventBus bus(4);
  Collector seen;
  auto s = bus.subscribe({"t", std::nullopt}, [&](const Event& e) {
    seen.add(e);
    std::lock_guard wait(gate);  // block delivery until the test lets go
  });
  ASSERT_TRUE(bus.publish({"t", "", "first"}));
  ASSERT_EQ(seen.wait_for(1).size(), 1u);  // the delivery thread is now stuck in the handler
  int accepted = 0, refused = 0;
  for (int i = 0; i < 10; ++i) (bus.publish({"t", "", "x"}) ? accepted : refused)++;
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(refused, 6);
  hold.unlock();
  EXPECT_EQ(seen.wait_for(5).size(), 5u);
}

TEST(EmbeddedEventBus, ThrowingHandlerDoesNotStopDelivery) {
  EmbeddedEventBus bus;
  Collector ok;
  auto bad =
      bus.subscribe({"t", std::nullopt}, [](const Event&) { throw std::runtime_error("x"); });
  auto good = bus.subscribe({"t", std::nullopt}, [&](const Event& e) { ok.add(e); });
  ASSERT_TRUE(bus.publish({"t", "", "1"}));
  ASSERT_TRUE(bus.publish({"t", "", "2"}));
  EXPECT_EQ(ok.wait_for(2).size(), 2u);
}

TEST(EmbeddedEventBus, QueuesOnlyEventsASubscriptionAsksFor) {
  EmbeddedEventBus bus;
  // Nobody listens: nothing is queued (and the delivery thread is not woken).
  ASSERT_TRUE(bus.publish({"task.status", "a", "0"}));
  EXPECT_EQ(bus.queued(), 0u);

  Collector tenant_a, every_tenant;
  {
    auto s = bus.subscribe({"task.status", "a"}, [&](const Event& e) { tenant_a.add(e); });
    ASSERT_TRUE(bus.publish({"task.status", "b", "1"}));  // another tenant
    ASSERT_TRUE(bus.publish({"auth.revoke", "a", "2"}));  // another topic
    EXPECT_EQ(bus.queued(), 0u);
    ASSERT_TRUE(bus.publish({"task.status", "a", "3"}));
    EXPECT_EQ(bus.queued(), 1u);
    EXPECT_EQ(tenant_a.wait_for(1), std::vector<std::string>{"3"});

    auto all =
        bus.subscribe({"task.status", std::nullopt}, [&](const Event& e) { every_tenant.add(e); });
    ASSERT_TRUE(bus.publish({"task.status", "b", "4"}));
    EXPECT_EQ(bus.queued(), 2u);
    EXPECT_EQ(every_tenant.wait_for(1), std::vector<std::string>{"4"});
  }
  // Both subscriptions are gone: nothing is queued again.
  ASSERT_TRUE(bus.publish({"task.status", "a", "5"}));
  ASSERT_TRUE(bus.publish({"task.status", "b", "6"}));
  EXPECT_EQ(bus.queued(), 2u);
  EXPECT_EQ(tenant_a.wait_for(2, 0ms).size(), 1u);

  // Two subscriptions of one tenant: the tenant stays wanted until the last one goes.
  Collector first, second;
  auto s1 = bus.subscribe({"task.status", "a"}, [&](const Event& e) { first.add(e); });
  {
    auto s2 = bus.subscribe({"task.status", "a"}, [&](const Event& e) { second.add(e); });
  }
  ASSERT_TRUE(bus.publish({"task.status", "a", "7"}));
  EXPECT_EQ(bus.queued(), 3u);
  EXPECT_EQ(first.wait_for(1), std::vector<std::string>{"7"});
}

}  // namespace
}  // namespace atrium::broker
