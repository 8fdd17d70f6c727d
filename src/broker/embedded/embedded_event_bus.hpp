// The in-process EventBus: a bounded queue and one delivery thread, so handlers see events in
// publish order. An event no subscription asks for (its topic, its tenant) is not queued: under
// load most task events have no subscriber on a replica (no WebSocket of that organization), and
// queueing each one woke the delivery thread for nothing (a futex wake and two context switches
// per created task, ~5% of `serve`'s CPU per accepted task).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "broker/event_bus.hpp"

namespace atrium::broker {

class EmbeddedEventBus final : public EventBus {
 public:
  explicit EmbeddedEventBus(std::size_t capacity = 65536);
  ~EmbeddedEventBus() override;  // delivers what was queued, then stops

  Result<void> publish(Event event) override;
  Subscription subscribe(EventFilter filter, Handler handler) override;

  // Events taken for delivery so far (some subscription matched them): for tests.
  std::uint64_t queued() const;

 private:
  // How many subscriptions ask for a topic: for every tenant, and per tenant.
  struct Interest {
    int all_tenants = 0;
    std::map<std::string, int, std::less<>> tenants;
  };

  void run();
  bool wanted(const Event& event) const;  // with mu_ held

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;                                 // guarded by mu_
  bool stopping_ = false;                                   // guarded by mu_
  std::map<std::string, Interest, std::less<>> interests_;  // guarded by mu_
  std::uint64_t queued_ = 0;                                // guarded by mu_

  // Held while a handler runs, so unsubscribing waits for a running handler to finish.
  std::recursive_mutex handlers_mu_;
  std::map<std::uint64_t, std::pair<EventFilter, Handler>> handlers_;
  std::uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace atrium::broker
