// TaskQueue: the work queue between the outbox relay (producer) and the workers (consumers)
// (DESIGN.md §2: service → outbox row → queue → worker → executor).
//
// Delivery is at least once: a message may arrive twice (a relay republishing after a crash, a
// consumer that vanished before acknowledging). Consumers make processing idempotent — a task's
// state moves only by conditional updates in the store — and acknowledge once the outcome is
// committed. The queue itself is not the source of truth: the database is; the queue says "task
// X may be ready now".
//
// The shape follows what a RabbitMQ quorum queue offers, so broker/rabbitmq/ implements it
// without touching callers: publish returns once the broker has accepted (publisher confirms);
// each consumer receives at most `prefetch` unacknowledged messages; ack / nack(requeue) per
// delivery; a message delivered more than the delivery limit, or nacked without requeue, is
// dead-lettered.
//
// Thread-safe: publish from any thread. A Consumer belongs to one thread at a time (RabbitMQ
// channels are not shared) but for wake(); destroying it returns its unacknowledged messages to
// the queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "platform/error.hpp"

namespace atrium::broker {

struct QueueMessage {
  std::string id;    // unique per message (the outbox row id): tracing, de-duplication
  std::string key;   // fairness key: the organization id ("" for none)
  std::string body;  // JSON text
};

struct Delivery {
  std::uint64_t tag = 0;   // names the delivery in ack / nack on the consumer that received it
  int delivery_count = 1;  // 1 on the first delivery, +1 on each redelivery
  QueueMessage message;
};

struct ConsumerOptions {
  int prefetch = 1;  // unacknowledged deliveries this consumer may hold
};

class TaskQueue {
 public:
  class Consumer {
   public:
    virtual ~Consumer() = default;

    // The next delivery, waiting up to `timeout`; nullopt when none arrived in time.
    // Code::kUnavailable when the queue is closed or the broker is unreachable (the caller
    // backs off and retries).
    virtual Result<std::optional<Delivery>> next(std::chrono::milliseconds timeout) = 0;

    // Done with the delivery: it will not come again. Acking an unknown tag is a no-op.
    virtual Result<void> ack(std::uint64_t tag) = 0;
    // Not done: `requeue` puts it back for another delivery (until the delivery limit);
    // otherwise it is dead-lettered, by RabbitMQ and the embedded queue alike.
    virtual Result<void> nack(std::uint64_t tag, bool requeue) = 0;

    // ack() of each of `tags`, in as few messages to the broker as it can: on RabbitMQ, the tags
    // that are this consumer's oldest unacknowledged deliveries go as one acknowledgement of the
    // highest (basic.ack `multiple`), the others one by one. Unknown tags are skipped.
    virtual Result<void> ack_all(std::span<const std::uint64_t> tags) {
      for (auto tag : tags) {
        if (auto r = ack(tag); !r) return r;
      }
      return {};
    }

    // Callable from any thread, unlike the others: a next() waiting on another thread returns
    // (nullopt) soon; with none waiting, the next call returns at once. For an owner that hands
    // deliveries to other threads and must settle what they finished.
    virtual void wake() = 0;
  };

  virtual ~TaskQueue() = default;

  // Returns once the queue has accepted every message of `batch` (durably, where the queue is
  // durable). Code::kUnavailable when it cannot (full, broker unreachable); some messages of the
  // batch may then have been accepted, so the caller republishes the whole batch later.
  virtual Result<void> publish(std::span<const QueueMessage> batch) = 0;

  virtual Result<std::unique_ptr<Consumer>> consume(const ConsumerOptions& options) = 0;

  // Whether accepted messages survive a restart of this process. The embedded queue does not:
  // after a restart its owner re-publishes the work that the database still shows as pending.
  virtual bool durable() const = 0;

  // Messages waiting for delivery (not counting those delivered and unacknowledged), for the
  // queue-depth metric; nullopt when unknown.
  virtual std::optional<std::size_t> depth() const = 0;

  // Readiness: whether the queue can take messages now.
  virtual Result<void> ping() = 0;
};

}  // namespace atrium::broker
