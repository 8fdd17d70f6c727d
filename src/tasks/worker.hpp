// The worker pool: threads that take task messages from the TaskQueue, claim the task in the
// store, run its agent's executor and record the outcome — independent of HTTP, so `serve` runs
// it in embedded mode and a worker process can run it alone.
//
// - One queue consumer per pool (one broker connection) takes the deliveries and hands each to a
//   free worker thread; each thread runs one task at a time. The consumer acknowledges what the
//   threads finished, several deliveries in one acknowledgement when they are its oldest
//   (TaskQueue::Consumer::ack_all); it holds at most WorkerOptions::prefetch deliveries.
// - Claim, finish, retry and release are conditional updates (tasks/store.hpp): a duplicate
//   message or a late worker cannot move a finished task or write a second result. A message is
//   acknowledged once its outcome is committed; one of an older queue generation than its task's
//   (a stale duplicate) is acknowledged and dropped at once.
// - A claimed task holds a lease, renewed while it runs; a task whose lease expired (its worker
//   was killed) is queued again by any pool, or failed once it has used its attempts.
// - An executor error marked retryable is retried after an exponential back-off, up to
//   max_attempts; then the task fails with the last error. Such ("poison") tasks never block the
//   queue: their retries wait in the outbox, not in a worker.
// - Cancel: the store marks the task cancelled; cancelled() stops the executor here at once,
//   and a pool elsewhere notices at its next lease renewal.
// - Lost messages: a task due and queued for longer than republish_after, while the queue has no
//   message waiting, gets a new message (TaskStore::republish_stale) — its last one was lost (a
//   purged queue, a broker that lost data). Checked at each maintenance pass.
// - Database outages: a worker holding a message whose task it cannot claim keeps the message
//   (a nack would count towards the delivery limit and dead-letter healthy tasks) and tries again
//   after hold_pause().
// - Dead letters: a task message the queue gave up on (delivered up to its limit without being
//   acknowledged: a "poison" message whose consumers keep dying) leaves its task queued with no
//   message to run it. Given a DeadLetterSource, a thread of the pool fails such tasks with
//   kDeadLetteredError (audited "task.dead_letter", announced as any transition) and then
//   acknowledges the dead letter; tasks that moved on meanwhile are left as they are.
// - Fairness: at most tenant_max_running tasks of one organization run at once; further messages
//   of that organization are deferred (and the embedded queue already delivers organizations in
//   turn).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "broker/task_queue.hpp"
#include "platform/clock.hpp"
#include "platform/metrics.hpp"
#include "tasks/events.hpp"
#include "tasks/executor.hpp"
#include "tasks/group_commit.hpp"
#include "tasks/store.hpp"

namespace atrium::tasks {

struct WorkerOptions {
  int workers = 2;
  std::chrono::milliseconds lease{30000};       // renewed every third of it while running
  std::chrono::milliseconds timeout{600000};    // a run longer than this fails
  int max_attempts = 3;                         // attempts per task, retries included
  std::chrono::milliseconds retry_delay{1000};  // before the first retry; doubles per attempt
  std::chrono::milliseconds max_retry_delay{300000};
  int tenant_max_running = 1;  // 0 = no cap
  std::chrono::milliseconds busy_delay{
      1000};                            // a deferred message of a busy organization waits this long
  std::chrono::milliseconds poll{250};  // an idle worker's longest wait (stop latency)
  // A task due and still queued this long gets a new queue message (TaskStore::republish_stale):
  // its last one was lost. 0 = never.
  std::chrono::milliseconds republish_after{300000};
  // While the database is unreachable, a worker holds the message it received and tries to claim
  // its task again after a pause that doubles from 250 ms up to this: a claim is one cheap
  // statement, and the task should start within seconds of the database returning.
  std::chrono::milliseconds hold_max_pause{5000};
  // Deliveries the pool's queue consumer may hold unacknowledged — running, waiting for a free
  // worker, or done and not yet acknowledged; 0 = `workers`, so a delivery never waits for a
  // thread while another process's workers could run it.
  int prefetch = 0;
};

// The pause before claim attempt `failures` + 1 of a held message: 250 ms doubling, at most
// `options.hold_max_pause`.
std::chrono::milliseconds hold_pause(const WorkerOptions& options, int failures);

// The back-off before retry number `attempts` (1 = the first retry): retry_delay × 2^(attempts-1),
// at most max_retry_delay, less up to a fifth at random (`jitter` in [0, 1)) so retries spread.
std::chrono::milliseconds retry_backoff(const WorkerOptions& options, int attempts, double jitter);

// Opens a consumer of the task queue's dead letters (e.g. RabbitTaskQueue::consume_dead_letters).
using DeadLetterSource = std::function<Result<std::unique_ptr<broker::TaskQueue::Consumer>>()>;

// The error a task fails with when its message was dead-lettered.
inline constexpr std::string_view kDeadLetteredError =
    "the task's queue message was dead-lettered: it was delivered to workers the maximum number "
    "of times without completing";

// Reads an organization's secret by name; nullopt when it has none.
using SecretReader = std::function<Result<std::optional<std::string>>(
    const std::string& organization_id, std::string_view name)>;

class WorkerPool {
 public:
  // `on_enqueued` is called after the pool queued a message in the outbox (retry, recovery,
  // release), e.g. to wake the relay; may be null. `metrics` may be null. Without
  // `dead_letters`, no thread settles dead-lettered tasks.
  WorkerPool(TaskStore& store, broker::TaskQueue& queue, const Executors& executors,
             TaskEvents& events, const Clock& clock, WorkerOptions options,
             SecretReader secrets = nullptr, std::function<void()> on_enqueued = nullptr,
             metrics::Registry* metrics = nullptr, DeadLetterSource dead_letters = nullptr);
  ~WorkerPool();  // stops

  // Starts the workers and the maintenance thread (lease renewal and recovery). With a queue that
  // does not survive restarts, the tasks the database shows queued are queued again first.
  void start();
  // Stops taking messages, asks running executors to stop, gives their tasks back to the queue
  // (or records them if they finished meanwhile), and joins every thread.
  void stop();

  // The task was cancelled: stops its executor now if it runs here. After this returns, no more
  // progress of that task is published from here.
  void cancelled(const std::string& task_id);

  // One maintenance pass: renews the leases of tasks running here (stopping those that are no
  // longer theirs), stops runs past the timeout, recovers expired leases. The maintenance
  // thread calls it every third of a lease; tests call it directly.
  void maintain();

  // Queues again every task the database shows queued (see start()).
  Result<void> requeue_queued();

  std::size_t running() const;

 private:
  enum class StopReason { kNone, kCancelled, kLost, kTimeout, kShutdown };
  struct Running {
    TaskRef ref;
    int attempt = 0;
    std::chrono::steady_clock::time_point started;
    std::stop_source stop;
    std::mutex mu;  // held while publishing progress, so a stop is never followed by progress
    StopReason reason = StopReason::kNone;  // guarded by mu
  };

  // What becomes of a delivery once handled.
  enum class Settle { kAck, kRequeue };
  struct Job {
    std::uint64_t epoch = 0;  // the consumer it came from (consumer_epoch_)
    broker::Delivery delivery;
  };
  struct Settled {
    std::uint64_t tag = 0;
    Settle how = Settle::kAck;
  };

  // The pool's one queue consumer: hands each delivery to a free worker thread (jobs_) and
  // acknowledges what they finished (settled_), several at a time when it can.
  void receive();
  // A worker thread: runs the deliveries receive() hands out.
  void work();
  Settle handle(const broker::Delivery& delivery);
  void settle_dead_letters();
  void settle(broker::TaskQueue::Consumer& consumer, const broker::Delivery& delivery);
  void run(Claimed claimed);
  void record(const Running& running, const Claimed& claimed, const Outcome& outcome,
              StopReason reason);
  void stop_run(Running& running, StopReason reason);
  // TaskStore::finish() through a group commit (tasks/group_commit.hpp): outcomes that become
  // ready while others are being written go together in the next batch (finish_all, per
  // organization).
  using FinishCommit = GroupCommit<Finish, Result<std::optional<Task>>>;
  Result<std::optional<Task>> finish_grouped(Finish finish);
  void write_finishes(std::span<FinishCommit::Slot* const> batch);
  void maintenance();
  bool wait_unless_stopping(std::chrono::milliseconds d);
  std::chrono::milliseconds backoff(int attempts);

  TaskStore& store_;
  broker::TaskQueue& queue_;
  const Executors& executors_;
  TaskEvents& events_;
  const Clock& clock_;
  const WorkerOptions options_;
  SecretReader secrets_;
  std::function<void()> on_enqueued_;
  metrics::Registry* metrics_;
  DeadLetterSource dead_letters_;

  struct ActiveCounts {
    std::atomic<std::int64_t> queued{0};
    std::atomic<std::int64_t> running{0};
  };
  // Sampled by the maintenance thread, read by /metrics without touching the database.
  std::shared_ptr<ActiveCounts> counts_ = std::make_shared<ActiveCounts>();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::map<std::string, std::shared_ptr<Running>> running_;  // by task id
  // Between receive() and the worker threads, guarded by mu_. A consumer that broke takes its
  // deliveries' fate with it (the broker returns them): a new one starts a new epoch, and what
  // the workers settle of an older one is not acknowledged.
  std::condition_variable jobs_cv_;
  std::deque<Job> jobs_;
  std::vector<Settled> settled_;
  std::uint64_t consumer_epoch_ = 0;
  std::size_t outstanding_ = 0;  // deliveries of this epoch handed out and not yet settled
  broker::TaskQueue::Consumer* consumer_ = nullptr;  // receive()'s, for wake()
  bool requeued_ = false;  // the queued tasks were queued again after start

  FinishCommit finishes_{64};

  std::mutex rng_mu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace atrium::tasks
