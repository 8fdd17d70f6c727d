// The in-process EventBus: a bounded queue and one delivery thread, so handlers see events in
// publish order.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "broker/event_bus.hpp"

namespace atrium::broker {

class EmbeddedEventBus final : public EventBus {
 public:
  explicit EmbeddedEventBus(std::size_t capacity = 65536);
  ~EmbeddedEventBus() override;  // delivers what was queued, then stops

  Result<void> publish(Event event) override;
  Subscription subscribe(EventFilter filter, Handler handler) override;

 private:
  void run();

  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool stopping_ = false;

  // Held while a handler runs, so unsubscribing waits for a running handler to finish.
  std::recursive_mutex handlers_mu_;
  std::map<std::uint64_t, std::pair<EventFilter, Handler>> handlers_;
  std::uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace atrium::broker
