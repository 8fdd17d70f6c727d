// Group commit: threads that each have one item to write (a claim, a task's outcome) share the
// write. A thread whose item arrives while no batch is being written writes at once — alone, so
// an idle system pays no added latency; items arriving while a batch is being written wait and go
// together in the next one, written by whichever of their threads gets there first. Under load a
// batch holds about as many items as threads wait on the database, so the database sees one
// transaction where it saw one per item.
//
// Thread-safe. `write` runs on a submitting thread without the lock, one batch at a time, and
// must set every slot's `out`.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
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
    bool done = false;  // guarded by the GroupCommit's mutex
  };

  explicit GroupCommit(std::size_t max_batch) : max_batch_(std::max<std::size_t>(1, max_batch)) {}

  // Submits `in` and returns its `out` once a batch holding it has been written by `write`
  // (void(std::span<Slot* const>)), called here or on another submitting thread.
  template <class Write>
  Out submit(In in, Out initial, Write&& write) {
    Slot me{std::move(in), std::move(initial)};
    std::unique_lock lock(mu_);
    waiting_.push_back(&me);
    for (;;) {
      cv_.wait(lock, [&] { return me.done || !writing_; });
      if (me.done) return std::move(me.out);
      // No batch is being written: this thread writes the waiting items (its own among them,
      // unless more than a batch waits).
      const std::size_t n = std::min(waiting_.size(), max_batch_);
      std::vector<Slot*> batch(waiting_.begin(), waiting_.begin() + n);
      waiting_.erase(waiting_.begin(), waiting_.begin() + n);
      writing_ = true;
      lock.unlock();
      write(std::span<Slot* const>(batch));
      lock.lock();
      for (Slot* s : batch) s->done = true;
      writing_ = false;
      cv_.notify_all();
    }
  }

  // Items waiting for the next batch (tests).
  std::size_t waiting() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
  }

 private:
  const std::size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;
  std::vector<Slot*> waiting_;
};

}  // namespace atrium::tasks
