// The transactional outbox (DESIGN.md §2): a service writes its queue message as an `outbox` row in
// the same transaction as the change it announces, and the OutboxRelay publishes committed rows
// to the TaskQueue, deleting each only after the queue accepted it. A crash between commit and
// publish loses nothing (the row is still there); a crash between publish and delete sends the
// row again (consumers tolerate duplicates, see task_queue.hpp).
//
// A row may be held back until `available_at` (retry back-off, deferral): the same mechanism
// schedules delayed work in every mode, without broker plugins.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "broker/task_queue.hpp"
#include "db/database.hpp"
#include "platform/clock.hpp"

namespace atrium::broker {

// Adds a message for `topic` to the outbox inside the caller's transaction; returns its id (also
// the QueueMessage id). `key` is the fairness key (organization id). Errors are the database's;
// the row is written with Tx::execute_deferred, so a failed write may instead fail the caller's
// next statement or its commit.
Result<std::string> add_to_outbox(db::Tx& tx, std::string_view topic, std::string_view key,
                                  std::string_view body, TimePoint now, TimePoint available_at);

struct OutboxRelayOptions {
  std::string topic = "tasks";  // rows of this topic go to the queue
  std::size_t batch = 256;      // rows per publish, 1 to 10000 (one statement deletes a batch)
  std::chrono::milliseconds poll_interval{500};    // looks for due rows at least this often
  std::chrono::milliseconds retry_interval{1000};  // after the queue or the database failed
  std::chrono::seconds retention{3600};            // prune(): rows marked sent, kept this long
};

// Publishes due outbox rows of one topic to a TaskQueue, on its own thread once started.
// Thread-safe. Several relays (one per replica) may run at once: a row may then be sent twice,
// which consumers tolerate.
class OutboxRelay {
 public:
  OutboxRelay(db::Database& db, TaskQueue& queue, const Clock& clock, OutboxRelayOptions options);
  ~OutboxRelay();  // stops

  void start();
  // Finishes the current pass and joins the thread; unsent rows stay for the next start.
  void stop();

  // Rows were just committed: look now rather than at the next poll.
  void notify();

  // One pass, as the thread runs it: publishes every due row in batches and deletes them once
  // the queue has them. Returns how many were sent; the queue's or the database's error otherwise
  // (rows not deleted are sent again).
  Result<std::size_t> relay_due();

  // Deletes rows marked sent more than `retention` ago; returns how many. Only releases before
  // this one marked sent rows (instead of deleting them): during a rolling upgrade their
  // replicas still do.
  Result<std::size_t> prune();

  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

 private:
  void run();

  db::Database& db_;
  TaskQueue& queue_;
  const Clock& clock_;
  const OutboxRelayOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  bool stopping_ = false;
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

}  // namespace atrium::broker
