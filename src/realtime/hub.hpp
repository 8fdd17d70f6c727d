// The realtime hub: routes task events from the EventBus to the WebSocket sessions subscribed to
// them on this replica (every replica runs one; the bus reaches them all).
//
// A session subscribes to one task, or to every task of its organization. Subscriptions are keyed
// by tenant first, so an event can only reach sessions of the event's organization: the tenant is
// the event's (the bus carries it), never the message's. The fan-out builds each message once and
// shares it among the recipients.
//
// The hub subscribes to a tenant's events on the bus while that tenant has an admitted
// connection here, and only then: on RabbitMQ a replica is sent only the events of the tenants
// connected to it (broker/rabbitmq/rabbit_event_bus.hpp). admit() returns once the bus delivers
// the tenant's events to this replica. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/event_bus.hpp"
#include "platform/clock.hpp"

namespace atrium::realtime {

// A recipient of events: a WebSocket session. deliver() must not block (it queues on the
// connection); check() is called about once a second (credential expiry, revocation).
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void deliver(const std::string& task_id,
                       const std::shared_ptr<const std::string>& message, bool terminal) = 0;
  virtual void check(TimePoint now) = 0;
};

struct HubOptions {
  std::size_t max_connections_per_tenant = 1000;
  std::chrono::milliseconds check_interval{1000};
};

class Hub {
 public:
  Hub(broker::EventBus& bus, const Clock& clock, HubOptions options = {});
  ~Hub();  // stops delivery and the checks; subscribers must have left

  // Admission at connect: false when the tenant is at its connection cap. A subscriber that was
  // admitted must leave() exactly once; until then it gets check() calls.
  bool admit(const std::string& tenant, Subscriber* subscriber);
  void leave(const std::string& tenant, Subscriber* subscriber);

  void subscribe_all(const std::string& tenant, Subscriber* subscriber);
  void subscribe_task(const std::string& tenant, const std::string& task_id,
                      Subscriber* subscriber);
  void unsubscribe_task(const std::string& tenant, const std::string& task_id,
                        Subscriber* subscriber);
  void unsubscribe(const std::string& tenant, Subscriber* subscriber);  // every subscription

  std::size_t connections() const;
  std::size_t connections(const std::string& tenant) const;

 private:
  // An admitted subscriber remembers its own task subscriptions, so leaving costs as many steps
  // as it has (a mass disconnect used to scan every task set of the tenant per connection, under
  // the exclusive lock that also holds back fan-out).
  struct Member {
    bool all_tasks = false;
    std::vector<std::string> tasks;  // at most the session's cap (256)
  };
  struct Tenant {
    std::unordered_map<Subscriber*, Member> members;  // admitted
    std::unordered_map<std::string, std::unordered_set<Subscriber*>> by_task;
  };
  static void drop_task(Tenant& t, const std::string& task_id, Subscriber* subscriber);
  // A member of `tenant` was admitted / left: subscribes to its events on the first, cancels on
  // the last.
  void want(const std::string& tenant);
  void unwant(const std::string& tenant);
  void on_event(const broker::Event& event);
  void run_checks();

  broker::EventBus& bus_;
  const Clock& clock_;
  const HubOptions options_;
  mutable std::shared_mutex mu_;  // shared while delivering, exclusive while changing
  std::unordered_map<std::string, Tenant> tenants_;
  std::size_t connections_ = 0;

  std::mutex check_mu_;
  std::condition_variable check_cv_;
  bool stopping_ = false;
  std::thread checker_;
  // Taken without mu_, and never held while the bus subscribes or cancels: a subscription waits
  // for its broker (a round trip, or its timeout while the broker stalls) and a cancel for a
  // running handler, which takes mu_. One tenant's first connection waiting for its binding
  // holds back neither other tenants' admissions nor their leaving; its tenant's later members
  // wait on interest_cv_ until the subscription is in place.
  std::mutex interest_mu_;
  std::condition_variable interest_cv_;
  struct Interest {
    std::size_t members = 0;
    bool subscribed = false;  // the bus delivers the tenant's events (its first member subscribed)
    broker::EventBus::Subscription subscription;
  };
  std::unordered_map<std::string, Interest> interests_;  // guarded by interest_mu_
};

}  // namespace atrium::realtime
