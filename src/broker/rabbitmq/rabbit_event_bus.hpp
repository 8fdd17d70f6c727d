// The EventBus on RabbitMQ (distributed mode): events reach the subscribers of every replica.
//
// Each event is delivered in this process at once (through an EmbeddedEventBus, so the order and
// threading guarantees are the embedded bus's) and published on the durable topic exchange
// `<prefix>.events` with `<topic>.<tenant>` as routing key. Each replica consumes through its own
// exclusive, auto-deleted queue, bound only to what its subscriptions ask for: `<topic>.<tenant>`
// for a tenant's events, `<topic>.#` for every tenant's. So the broker routes an event only to the
// replicas that want it — a worker process, which subscribes to nothing, receives none, and a
// `serve` replica receives a tenant's task events only while that tenant has a WebSocket
// connection on it (realtime::Hub subscribes per tenant). Events a replica published itself are
// skipped there (they were delivered locally already).
//
// subscribe() returns once the broker has bound the subscription's key, while the consumer is
// connected (bounded by the timeout): events other replicas publish afterwards reach the handler.
//
// At most once, as EventBus says: events published while the broker is unreachable wait in a
// bounded buffer (the oldest dropped when it is full) and go out after reconnecting; events other
// replicas published meanwhile are missed (subscribers that need the truth read the store —
// revocations are also polled). Two connections, each on its own thread (publishing, consuming),
// reconnect by themselves with back-off. publish() never blocks on the network. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/embedded/embedded_event_bus.hpp"
#include "broker/event_bus.hpp"
#include "broker/rabbitmq/rabbit_task_queue.hpp"

namespace atrium::broker {

namespace rabbitmq {
class AmqpConnection;
}

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
  // Writes the events' messages in one write (rabbitmq::AmqpConnection::buffer_publish()).
  Result<void> send_events(rabbitmq::AmqpConnection& c, const std::vector<Event>& batch);

  // While events keep coming, the publishing thread wakes at most once per kLinger and sends what
  // gathered in one write, instead of waking (two context switches) and writing three frames per
  // event: at 2k created tasks a second that was ~11% of `serve`'s CPU. The first event after a
  // quiet spell goes at once; later ones wait at most kLinger (completion → push budget: 10 ms).
  static constexpr std::chrono::milliseconds kLinger{2};
  static constexpr std::size_t kMaxBatch = 512;

  std::unique_ptr<Impl> impl_;
  EmbeddedEventBus local_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<bool> publisher_up_{false};
  std::atomic<bool> consumer_up_{false};

  // Binds and unbinds the consumer's queue until it matches interests_; false when the connection
  // failed.
  bool sync_bindings(rabbitmq::AmqpConnection& c, const std::string& queue,
                     std::set<std::string>& bound);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> outgoing_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  bool lingering_ = false;      // guarded by mu_: the publishing thread waits out kLinger
  // Binding keys the subscriptions ask for, with how many ask for each; a change bumps
  // wanted_generation_, and the consumer thread sets bound_generation_ once the broker has it.
  std::map<std::string, int> interests_;  // guarded by mu_
  std::uint64_t wanted_generation_ = 0;   // guarded by mu_
  std::uint64_t bound_generation_ = 0;    // guarded by mu_
  std::condition_variable bound_cv_;
  std::thread publisher_;
  std::thread consumer_;
};

}  // namespace atrium::broker
