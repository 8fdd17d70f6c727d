// The EventBus on RabbitMQ (distributed mode): events reach the subscribers of every replica.
//
// Each event is delivered in this process at once (through an EmbeddedEventBus, so the order and
// threading guarantees are the embedded bus's) and published on the durable topic exchange
// `<prefix>.events` with the topic as routing key. Each replica consumes through its own
// exclusive, auto-deleted queue bound to every topic; events it published itself are skipped
// there (they were delivered locally already).
//
// At most once, as EventBus says: events published while the broker is unreachable wait in a
// bounded buffer (the oldest dropped when it is full) and go out after reconnecting; events other
// replicas published meanwhile are missed (subscribers that need the truth read the store —
// revocations are also polled). Two connections, each on its own thread (publishing, consuming),
// reconnect by themselves with back-off. publish() never blocks on the network. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "broker/embedded/embedded_event_bus.hpp"
#include "broker/event_bus.hpp"
#include "broker/rabbitmq/rabbit_task_queue.hpp"

namespace atrium::broker {

class RabbitEventBus final : public EventBus {
 public:
  // Checks the URL (Code::kInvalidRequest) and starts connecting; does not need the broker up.
  // `capacity` bounds both the local delivery queue and the outgoing buffer.
  static Result<std::unique_ptr<RabbitEventBus>> create(RabbitOptions options,
                                                        std::size_t capacity = 65536);
  ~RabbitEventBus() override;  // stops both threads; what was not sent yet is dropped

  Result<void> publish(Event event) override;
  Subscription subscribe(EventFilter filter, Handler handler) override;

  // Whether both connections are up (events flow between replicas).
  Result<void> ping();

  // Events received from other replicas, and events sent to the broker (for tests and metrics).
  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

 private:
  struct Impl;
  explicit RabbitEventBus(std::unique_ptr<Impl> impl);
  void publish_loop();
  void consume_loop();

  std::unique_ptr<Impl> impl_;
  EmbeddedEventBus local_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<bool> publisher_up_{false};
  std::atomic<bool> consumer_up_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> outgoing_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::thread publisher_;
  std::thread consumer_;
};

}  // namespace atrium::broker
