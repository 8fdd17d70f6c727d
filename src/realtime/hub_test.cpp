#include "realtime/hub.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "broker/embedded/embedded_event_bus.hpp"
#include "support/fake_clock.hpp"

namespace atrium::realtime {
namespace {

using namespace std::chrono_literals;

class Recorder final : public Subscriber {
 public:
  void deliver(const std::string& task_id, const std::shared_ptr<const std::string>& message,
               bool terminal) override {
    std::lock_guard l(mu_);
    got_.push_back({task_id, *message, terminal});
    cv_.notify_all();
  }
  void check(TimePoint) override {
    std::lock_guard l(mu_);
    ++checks_;
    cv_.notify_all();
  }
  struct Got {
    std::string task_id, message;
    bool terminal;
  };
  std::vector<Got> wait_for(std::size_t n) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, 5s, [&] { return got_.size() >= n; });
    return got_;
  }
  bool wait_for_checks(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, 5s, [&] { return checks_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Got> got_;
  int checks_ = 0;
};

std::string event(const std::string& task_id, const std::string& status, bool progress = false) {
  nlohmann::json p = {{"task", {{"id", task_id}, {"status", status}}}};
  if (progress) p["progress"] = {{"step", 1}, {"of", 2}};
  return p.dump();
}

class HubTest : public ::testing::Test {
 protected:
  broker::EmbeddedEventBus bus_;
  atrium::testing::FakeClock clock_;
};

TEST_F(HubTest, EventsReachOnlyTheirTenant) {
  Hub hub(bus_, clock_);
  Recorder a, b;
  ASSERT_TRUE(hub.admit("org-a", &a));
  ASSERT_TRUE(hub.admit("org-b", &b));
  hub.subscribe_all("org-a", &a);
  hub.subscribe_all("org-b", &b);
  ASSERT_TRUE(bus_.publish({"task.status", "org-b", event("t-b", "running")}));
  ASSERT_TRUE(bus_.publish({"task.status", "org-a", event("t-a", "succeeded")}));
  auto got = a.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, "t-a");
  EXPECT_TRUE(got[0].terminal);
  auto msg = nlohmann::json::parse(got[0].message);
  EXPECT_EQ(msg["type"], "task-status");
  EXPECT_EQ(msg["task"]["id"], "t-a");
  auto gb = b.wait_for(1);
  ASSERT_EQ(gb.size(), 1u);
  EXPECT_EQ(gb[0].task_id, "t-b");
  hub.leave("org-a", &a);
  hub.leave("org-b", &b);
}

// An EventBus that counts the live subscriptions per filter: what a RabbitMQ bus would bind.
class CountingBus final : public broker::EventBus {
 public:
  Result<void> publish(broker::Event event) override { return inner_.publish(std::move(event)); }
  Subscription subscribe(broker::EventFilter filter, Handler handler) override {
    const std::string key = filter.topic + "/" + filter.tenant.value_or("*");
    {
      std::lock_guard lock(mu_);
      ++live_[key];
    }
    auto inner = std::make_shared<Subscription>(inner_.subscribe(filter, std::move(handler)));
    return Subscription([this, key, inner] {
      inner->reset();
      std::lock_guard lock(mu_);
      if (--live_[key] == 0) live_.erase(key);
    });
  }
  std::map<std::string, int> live() {
    std::lock_guard lock(mu_);
    return live_;
  }

 private:
  broker::EmbeddedEventBus inner_;
  std::mutex mu_;
  std::map<std::string, int> live_;
};

TEST_F(HubTest, ListensToATenantsEventsOnlyWhileItHasAConnection) {
  CountingBus bus;
  Hub hub(bus, clock_);
  EXPECT_TRUE(bus.live().empty()) << "no connection, no subscription";
  Recorder a1, a2, b;
  ASSERT_TRUE(hub.admit("org-a", &a1));
  ASSERT_TRUE(hub.admit("org-a", &a2));
  ASSERT_TRUE(hub.admit("org-a", &a2));  // admitted once
  ASSERT_TRUE(hub.admit("org-b", &b));
  EXPECT_EQ(bus.live(),
            (std::map<std::string, int>{{"task.status/org-a", 1}, {"task.status/org-b", 1}}));
  hub.subscribe_all("org-a", &a2);
  ASSERT_TRUE(bus.publish({"task.status", "org-a", event("t-a", "running")}));
  EXPECT_EQ(a2.wait_for(1).size(), 1u);

  hub.leave("org-a", &a1);
  EXPECT_EQ(bus.live().count("task.status/org-a"), 1u) << "org-a still has a connection";
  hub.leave("org-a", &a2);
  hub.leave("org-a", &a2);
  EXPECT_EQ(bus.live(), (std::map<std::string, int>{{"task.status/org-b", 1}}));
  hub.leave("org-b", &b);
  EXPECT_TRUE(bus.live().empty());
}

// An EventBus whose subscriptions to one tenant wait until the test opens them, as a RabbitMQ bus
// waits for the broker's binding.
class GatedBus final : public broker::EventBus {
 public:
  explicit GatedBus(std::string gated) : gated_(std::move(gated)) {}
  Result<void> publish(broker::Event event) override { return inner_.publish(std::move(event)); }
  Subscription subscribe(broker::EventFilter filter, Handler handler) override {
    if (filter.tenant == gated_) {
      std::unique_lock lock(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      --waiting_;
    }
    auto inner = inner_.subscribe(std::move(filter), std::move(handler));
    std::lock_guard lock(mu_);
    ++subscribed_;
    return inner;
  }
  bool wait_for_waiting(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return waiting_ == n; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int subscribed() {
    std::lock_guard lock(mu_);
    return subscribed_;
  }

 private:
  broker::EmbeddedEventBus inner_;
  const std::string gated_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0, subscribed_ = 0;
  bool open_ = false;
};

// One tenant's first connection waits for its subscription; other tenants are admitted meanwhile,
// and the tenant's next connection is admitted only once its events flow.
TEST_F(HubTest, ATenantWaitingForItsSubscriptionHoldsBackNoOtherTenant) {
  GatedBus bus("org-a");
  Hub hub(bus, clock_);
  Recorder a1, a2, b;
  auto first = std::async(std::launch::async, [&] { return hub.admit("org-a", &a1); });
  ASSERT_TRUE(bus.wait_for_waiting(1));

  auto other = std::async(std::launch::async, [&] { return hub.admit("org-b", &b); });
  const bool other_admitted = other.wait_for(5s) == std::future_status::ready;
  EXPECT_TRUE(other_admitted) << "org-b waited for org-a's subscription";

  // Whenever the second member of org-a is admitted, org-a's subscription exists.
  auto second = std::async(std::launch::async, [&] {
    const bool admitted = hub.admit("org-a", &a2);
    return admitted && bus.subscribed() == 2;
  });
  second.wait_for(1s);  // a wrong hub would return meanwhile, before the subscription
  bus.open();
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get()) << "admitted before its tenant's events flowed";
  if (!other_admitted) other.wait();
  hub.subscribe_all("org-a", &a2);
  ASSERT_TRUE(bus.publish({"task.status", "org-a", event("t-a", "running")}));
  EXPECT_EQ(a2.wait_for(1).size(), 1u);
  EXPECT_EQ(bus.subscribed(), 2) << "one subscription per tenant";
  hub.leave("org-a", &a1);
  hub.leave("org-a", &a2);
  hub.leave("org-b", &b);
}

TEST_F(HubTest, TaskSubscriptionsAndDeduplication) {
  Hub hub(bus_, clock_);
  Recorder one, both;
  ASSERT_TRUE(hub.admit("org", &one));
  ASSERT_TRUE(hub.admit("org", &both));
  hub.subscribe_task("org", "t1", &one);
  hub.subscribe_task("org", "t1", &both);
  hub.subscribe_all("org", &both);
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t2", "queued")}));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t1", "running", true)}));
  auto got = one.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, "t1");
  EXPECT_FALSE(got[0].terminal);  // progress is never terminal
  auto got_both = both.wait_for(2);
  ASSERT_EQ(got_both.size(), 2u);  // t2 once, t1 once (not twice)
  EXPECT_EQ(got_both[0].task_id, "t2");
  EXPECT_EQ(got_both[1].task_id, "t1");
  hub.leave("org", &one);
  hub.leave("org", &both);
}

TEST_F(HubTest, UnsubscribeAndLeaveStopDelivery) {
  Hub hub(bus_, clock_);
  Recorder r, witness;
  ASSERT_TRUE(hub.admit("org", &r));
  ASSERT_TRUE(hub.admit("org", &witness));
  hub.subscribe_task("org", "t1", &r);
  hub.subscribe_all("org", &witness);
  hub.unsubscribe_task("org", "t1", &r);
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t1", "running")}));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t9", "queued")}));
  ASSERT_EQ(witness.wait_for(2).size(), 2u);  // both events were fully delivered…
  EXPECT_TRUE(r.wait_for(0).empty());         // …but not to the unsubscribed one
  hub.leave("org", &r);
  hub.leave("org", &r);  // twice is harmless
  EXPECT_EQ(hub.connections("org"), 1u);
  hub.leave("org", &witness);
  EXPECT_EQ(hub.connections(), 0u);
}

TEST_F(HubTest, LeavingRemovesEveryOneOfItsSubscriptionsAndNoOneElses) {
  Hub hub(bus_, clock_);
  Recorder r, other, witness;
  ASSERT_TRUE(hub.admit("org", &r));
  ASSERT_TRUE(hub.admit("org", &other));
  ASSERT_TRUE(hub.admit("org", &witness));
  hub.subscribe_task("org", "t1", &r);
  hub.subscribe_task("org", "t2", &r);
  hub.subscribe_task("org", "t2", &r);  // twice is one subscription
  hub.subscribe_all("org", &r);
  hub.subscribe_task("org", "t1", &other);
  hub.subscribe_all("org", &witness);
  hub.leave("org", &r);

  // Admitted again, the same subscriber starts with no subscription left over.
  ASSERT_TRUE(hub.admit("org", &r));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t1", "running")}));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t2", "running")}));
  ASSERT_EQ(witness.wait_for(2).size(), 2u);  // both events were fully delivered…
  EXPECT_TRUE(r.wait_for(0).empty());         // …not to the one that left…
  auto got = other.wait_for(1);               // …and still to the other subscriber of t1
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, "t1");

  hub.subscribe_task("org", "t2", &r);
  hub.unsubscribe("org", &r);  // every subscription, but still admitted
  EXPECT_EQ(hub.connections("org"), 3u);
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t2", "succeeded")}));
  ASSERT_EQ(witness.wait_for(3).size(), 3u);
  EXPECT_TRUE(r.wait_for(0).empty());
  for (Recorder* s : {&r, &other, &witness}) hub.leave("org", s);
  EXPECT_EQ(hub.connections(), 0u);
}

TEST_F(HubTest, ConnectionCapPerTenant) {
  Hub hub(bus_, clock_, HubOptions{.max_connections_per_tenant = 2});
  Recorder a, b, c, other;
  EXPECT_TRUE(hub.admit("org", &a));
  EXPECT_TRUE(hub.admit("org", &b));
  EXPECT_FALSE(hub.admit("org", &c));
  EXPECT_TRUE(hub.admit("other", &other));  // another tenant is unaffected
  hub.leave("org", &a);
  EXPECT_TRUE(hub.admit("org", &c));
  hub.leave("org", &b);
  hub.leave("org", &c);
  hub.leave("other", &other);
}

TEST_F(HubTest, SubscribingWithoutAdmissionDoesNothing) {
  Hub hub(bus_, clock_);
  Recorder stranger, witness;
  ASSERT_TRUE(hub.admit("org", &witness));
  hub.subscribe_all("org", &witness);
  hub.subscribe_all("org", &stranger);
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t", "queued")}));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("t2", "queued")}));
  ASSERT_EQ(witness.wait_for(2).size(), 2u);
  EXPECT_TRUE(stranger.wait_for(0).empty());
  hub.leave("org", &witness);
}

TEST_F(HubTest, MalformedEventsAreIgnored) {
  Hub hub(bus_, clock_);
  Recorder r;
  ASSERT_TRUE(hub.admit("org", &r));
  hub.subscribe_all("org", &r);
  for (const char* bad : {"", "[]", "{}", "{\"task\":1}", "{\"task\":{\"id\":5}}", "not json"})
    ASSERT_TRUE(bus_.publish({"task.status", "org", bad}));
  ASSERT_TRUE(bus_.publish({"task.status", "org", event("ok", "queued")}));
  auto got = r.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, "ok");
  hub.leave("org", &r);
}

TEST_F(HubTest, AdmittedSubscribersAreCheckedPeriodically) {
  Hub hub(bus_, clock_, HubOptions{.check_interval = 10ms});
  Recorder r;
  ASSERT_TRUE(hub.admit("org", &r));
  EXPECT_TRUE(r.wait_for_checks(3));
  hub.leave("org", &r);
}

}  // namespace
}  // namespace atrium::realtime
