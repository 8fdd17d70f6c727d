// EventBus: fan-out of small events to every interested party on every replica — task status
// changes for WebSocket subscribers, revocations for the token caches (DESIGN.md §2, §7).
//
// Delivery is at most once and in publish order per publisher; a subscriber that needs the
// truth reads the store (events say *that* something changed). The embedded bus reaches this
// process only; the RabbitMQ bus (broker/rabbitmq/) reaches every replica through a topic
// exchange. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/error.hpp"

namespace atrium::broker {

struct Event {
  std::string topic;    // e.g. "task.status", "auth.revoke"
  std::string tenant;   // organization id; empty for platform-wide events
  std::string payload;  // JSON text
};

struct EventFilter {
  std::string topic;                  // exact topic
  std::optional<std::string> tenant;  // nullopt = every tenant
};

class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;

  // Unsubscribes when destroyed. After the destructor returns the handler is not running and
  // will not run again.
  class Subscription {
   public:
    Subscription() = default;
    explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
    Subscription(Subscription&& o) noexcept : cancel_(std::exchange(o.cancel_, nullptr)) {}
    Subscription& operator=(Subscription&& o) noexcept {
      reset();
      cancel_ = std::exchange(o.cancel_, nullptr);
      return *this;
    }
    ~Subscription() { reset(); }
    void reset() {
      if (cancel_) std::exchange(cancel_, nullptr)();
    }

   private:
    std::function<void()> cancel_;
  };

  virtual ~EventBus() = default;

  // Queues the event for delivery; Code::kUnavailable when the bus cannot take it (full, or
  // the broker is unreachable).
  virtual Result<void> publish(Event event) = 0;

  // `handler` runs on the bus's delivery thread: it must be quick and must not block (hand work
  // to an executor if needed).
  virtual Subscription subscribe(EventFilter filter, Handler handler) = 0;
};

}  // namespace atrium::broker
