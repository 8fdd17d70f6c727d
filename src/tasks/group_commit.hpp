// Group commit: threads that each have one item to write (a claim, a task's outcome, a new task)
// share the write. A thread whose item arrives while fewer than `max_writers` batches are being
// written writes at once — alone, so an idle system pays no added latency; items arriving while
// that many batches are being written wait and go together in the next one, written by whichever
// of their threads gets there first. Under load a batch holds about as many items as threads wait
// on the database, divided among the writers, so the database sees one transaction where it saw
// one per item. One writer serialises the writes; several let a database with many connections
// run batches side by side.
//
// Thread-safe. `write` runs on a submitting thread without the lock, at most `max_writers`
// batches at a time, and must set every slot's `out` (a slot it does not set keeps `initial`).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <span>
#include <vector>

namespace atrium::tasks {

template <class In, class Out>
class GroupCommit {
 public:
  struct Slot {
    In in;
    Out out;
    bool taken = false;            // in a batch being written; guarded by the mutex
    bool done = false;             // written; guarded by the mutex
    std::condition_variable wake;  // its thread's: done, or a writer is free
  };

  explicit GroupCommit(std::size_t max_batch, std::size_t max_writers = 1)
      : max_batch_(std::max<std::size_t>(1, max_batch)),
        max_writers_(std::max<std::size_t>(1, max_writers)) {}

  // Submits `in` and returns its `out` once a batch holding it has been written by `write`
  // (void(std::span<Slot* const>)), called here or on another submitting thread.
  template <class Write>
  Out submit(In in, Out initial, Write&& write) {
    Slot me{std::move(in), std::move(initial)};
    std::unique_lock lock(mu_);
    waiting_.push_back(&me);
    for (;;) {
      // Each thread is woken alone (its own item written, or a writer free while its item is
      // the oldest waiting), not all of them at every batch's end. A thread whose item another
      // writer has taken only waits for it: it never writes while its item is in flight.
      me.wake.wait(lock, [&] { return me.done || (!me.taken && writers_ < max_writers_); });
      if (me.done) return std::move(me.out);
      // A writer is free: this thread writes the waiting items (its own among them, unless more
      // than a batch waits).
      const std::size_t n = std::min(waiting_.size(), max_batch_);
      std::vector<Slot*> batch(waiting_.begin(), waiting_.begin() + n);
      waiting_.erase(waiting_.begin(), waiting_.begin() + n);
      for (Slot* s : batch) s->taken = true;
      ++writers_;
      elect();  // more than a batch waits and another writer is free
      lock.unlock();
      // A write that throws ends its batch too: the other items keep the `out` it set, else
      // `initial`, and this thread's own item — in this batch, or still waiting — leaves with
      // the exception.
      std::exception_ptr thrown;
      try {
        write(std::span<Slot* const>(batch));
      } catch (...) {
        thrown = std::current_exception();
      }
      lock.lock();
      --writers_;
      if (thrown) std::erase(waiting_, &me);
      for (Slot* s : batch) {
        s->done = true;
        if (s != &me) s->wake.notify_one();
      }
      elect();
      if (thrown) std::rethrow_exception(thrown);
    }
  }

  // Items waiting for the next batch (tests).
  std::size_t waiting() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
  }

 private:
  // With the lock held: while a writer is free, the thread of the oldest waiting item writes
  // next (it takes a batch and calls this again, so more than a batch waiting fills the writers).
  void elect() {
    if (writers_ < max_writers_ && !waiting_.empty()) waiting_.front()->wake.notify_one();
  }

  const std::size_t max_batch_;
  const std::size_t max_writers_;
  mutable std::mutex mu_;
  std::size_t writers_ = 0;  // batches being written
  std::vector<Slot*> waiting_;
};

}  // namespace atrium::tasks
