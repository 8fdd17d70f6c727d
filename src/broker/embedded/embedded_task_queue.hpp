// The in-process TaskQueue (embedded mode): bounded, thread-safe, not durable — durability comes
// from the database outbox, whose relay publishes here, and from re-publishing pending work after
// a restart (TaskQueue::durable() is false).
//
// Fair by key: each key (organization) has its own FIFO and deliveries take keys in turn, so one
// key's backlog does not delay another's messages; `max_in_flight_per_key` additionally caps a
// key's unacknowledged deliveries, so one organization cannot hold every consumer.
//
// A message nacked back (or returned by a consumer that went away) after `delivery_limit`
// deliveries, or nacked without requeue, moves to this queue's dead letters, as RabbitMQ's
// dead-letter queue receives it: consume_dead_letters() hands them to whoever settles their tasks
// (tasks::WorkerPool). A dead letter nacked without requeue is dropped.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "broker/task_queue.hpp"

namespace atrium::broker {

struct EmbeddedTaskQueueOptions {
  std::size_t capacity = 100000;  // messages held (waiting + unacknowledged); publish fails beyond
  int max_in_flight_per_key = 0;  // unacknowledged deliveries per key; 0 = no limit
  int delivery_limit = 10;        // a message nacked with requeue after this many is dead-lettered
};

class EmbeddedTaskQueue final : public TaskQueue {
 public:
  explicit EmbeddedTaskQueue(EmbeddedTaskQueueOptions options = {});
  ~EmbeddedTaskQueue() override;  // closes; consumers must be destroyed first

  Result<void> publish(std::span<const QueueMessage> batch) override;
  Result<std::unique_ptr<Consumer>> consume(const ConsumerOptions& options) override;
  bool durable() const override { return false; }
  std::optional<std::size_t> depth() const override;
  Result<void> ping() override;

  // Refuses further publishes and wakes every waiting consumer with Code::kUnavailable.
  void close();

  // Messages dead-lettered: at the delivery limit, or nacked without requeue (for tests and
  // metrics).
  std::uint64_t dropped() const;

  // A consumer of the dead-lettered messages (as RabbitTaskQueue's dead-letter queue), each
  // delivered once more with its id, key and body. Code::kUnavailable once closed.
  Result<std::unique_ptr<Consumer>> consume_dead_letters(const ConsumerOptions& options);
  // Dead letters waiting for a consumer.
  std::size_t dead_letters() const;

 private:
  class ConsumerImpl;
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<State> dead_;
};

}  // namespace atrium::broker
