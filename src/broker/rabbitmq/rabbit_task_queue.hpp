// The TaskQueue on RabbitMQ (distributed mode, DESIGN.md §1): a durable quorum queue.
//
// Topology, declared idempotently by every connection before use (so a broker that lost it, or
// a first start, needs nothing by hand): the queue `<prefix>.tasks` (quorum, durable, delivery
// limit), the direct exchange `<prefix>.tasks.dlx` and the queue `<prefix>.tasks.dead` bound to
// it, where RabbitMQ moves a message that was delivered more than the limit (a "poison" message
// that keeps killing its consumer) or that a consumer nacked without requeue.
//
// - publish: persistent messages on a confirm-mode channel; returns once the broker confirmed
//   every message of the batch (so the outbox marks a row sent only after RabbitMQ holds it).
//   Messages the broker nacks (a quorum queue just declared or failing over has no leader yet)
//   are published again, alone, within the same deadline.
// - consume: one connection per consumer (rabbitmq-c connections are single-threaded), with
//   basic.qos prefetch and manual acknowledgements; closing it returns unacknowledged messages.
// - After a failure (broker restart, dropped connection) the next call connects again, no sooner
//   than the back-off allows (growing to RabbitOptions::max_backoff); meanwhile calls fail fast
//   with Code::kUnavailable, so a caller never waits on a dead broker beyond `timeout`.
// - A monitor thread keeps depth(), dead_letters() and ping() current without blocking callers
//   (metrics and /readyz read them from HTTP threads).
//
// Thread-safe as TaskQueue says. Every network step (connect, each RPC, each ack) is bounded by
// `timeout`, and a whole publish too (writing the batch, waiting for its confirms, the one retry
// on a new connection share one deadline): a stalled broker fails calls, never hangs them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/rabbitmq/backoff.hpp"
#include "broker/task_queue.hpp"

namespace atrium::broker {

struct RabbitOptions {
  std::string url;                          // amqp://user:pass@host:port/vhost
  std::string prefix = "atrium";            // names of the queues and exchanges
  int delivery_limit = 10;                  // deliveries after the first before dead-lettering
  std::chrono::milliseconds timeout{5000};  // connect, each RPC, waiting for confirms
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds monitor_interval{1000};
};

namespace rabbitmq {
class AmqpConnection;
struct Endpoint;
}  // namespace rabbitmq

class RabbitTaskQueue final : public TaskQueue {
 public:
  // Checks the URL (Code::kInvalidRequest) and starts the monitor; does not need the broker to
  // be up.
  static Result<std::unique_ptr<RabbitTaskQueue>> create(RabbitOptions options);
  ~RabbitTaskQueue() override;  // consumers must be destroyed first

  Result<void> publish(std::span<const QueueMessage> batch) override;
  Result<std::unique_ptr<Consumer>> consume(const ConsumerOptions& options) override;
  bool durable() const override { return true; }
  std::optional<std::size_t> depth() const override;
  // Whether the monitor reached the broker at its last look (at most monitor_interval ago).
  Result<void> ping() override;

  // A consumer of the dead-letter queue, as consume() is of the task queue: for whoever settles
  // the tasks of messages the queue gave up on (tasks::WorkerPool).
  Result<std::unique_ptr<Consumer>> consume_dead_letters(const ConsumerOptions& options);

  // Messages in the dead-letter queue at the monitor's last look; nullopt before the first.
  std::optional<std::size_t> dead_letters() const;
  // Asks the broker now (blocking, up to `timeout`): for tests and operators.
  Result<std::size_t> count_dead_letters();

  // Deletes the queues and exchanges named by `options.prefix`, their messages included (tests,
  // and operators retiring a deployment). Code::kUnavailable when the broker cannot be reached.
  static Result<void> remove_topology(const RabbitOptions& options);

  const std::string& queue_name() const { return queue_; }
  const std::string& dead_letter_queue_name() const { return dead_queue_; }

 private:
  class ConsumerImpl;
  RabbitTaskQueue(RabbitOptions options, std::unique_ptr<rabbitmq::Endpoint> endpoint);

  // A connection with the topology declared, each step bounded by `timeout` (default: the
  // options'); Code::kUnavailable while backing off.
  Result<std::unique_ptr<rabbitmq::AmqpConnection>> connect(
      std::string_view role, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<void> publish_on(rabbitmq::AmqpConnection& c, std::span<const QueueMessage> batch,
                          std::chrono::steady_clock::time_point deadline);
  // Writes `batch` and waits for its confirms; the messages the broker nacked go to `refused`.
  Result<void> publish_round(rabbitmq::AmqpConnection& c,
                             const std::vector<const QueueMessage*>& batch,
                             std::chrono::steady_clock::time_point deadline,
                             std::vector<const QueueMessage*>& refused);
  Result<std::unique_ptr<Consumer>> consume_from(const std::string& queue,
                                                 const ConsumerOptions& options);
  void monitor();

  const RabbitOptions options_;
  const std::unique_ptr<rabbitmq::Endpoint> endpoint_;
  const std::string queue_;
  const std::string dlx_;
  const std::string dead_queue_;

  std::mutex connect_mu_;  // guards backoff_, shared by every connection attempt
  rabbitmq::Backoff backoff_;

  std::mutex publish_mu_;  // one publisher connection, used by one publish at a time
  std::unique_ptr<rabbitmq::AmqpConnection> publisher_;
  std::uint64_t next_publish_seq_ = 1;

  std::atomic<bool> up_{false};
  std::atomic<std::int64_t> depth_{-1};
  std::atomic<std::int64_t> dead_{-1};
  mutable std::mutex monitor_mu_;
  std::string last_error_;  // guarded by monitor_mu_
  std::condition_variable monitor_cv_;
  bool stopping_ = false;  // guarded by monitor_mu_
  std::thread monitor_;
};

}  // namespace atrium::broker
