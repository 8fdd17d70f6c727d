// A small, bounded pool for CPU-heavy work (password hashing), separate from the handler pool so
// a login storm cannot take every handler thread: at most `threads` hashes run and `queue_limit`
// wait; beyond that a caller is refused at once (Code::kUnavailable, Retry-After 1 → 503), and a
// job that has not started within `max_wait` is dropped and refused the same way.
//
// Workers run at a lower CPU priority so the I/O thread and other handlers win the CPU while
// hashing soaks up what is left: niceness +10 by default, with the shortest time slice the kernel
// allows (0.1 ms; Linux ≥ 6.12 honours it, older kernels ignore it) — a 20 ms hash otherwise runs
// to the end of its slice before a request's thread that wakes up gets the CPU. `idle` instead runs
// them under SCHED_IDLE: any other runnable thread of the host preempts a hash at once, and a busy
// host defers sign-ins until they are refused after `max_wait`. ATRIUM_HASH_NICE chooses.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "platform/error.hpp"

namespace atrium::identity {

class HashPool {
 public:
  struct Options {
    int threads = 2;
    std::size_t queue_limit = 8;
    std::chrono::milliseconds max_wait{5000};
    int nice = 10;      // per-thread niceness (0 = as the caller); ignored when `idle`
    bool idle = false;  // SCHED_IDLE: only CPU time no other thread wants
  };

  explicit HashPool(Options options);
  ~HashPool();  // finishes running jobs, refuses queued ones
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Runs `job` on a pool thread and waits for it to finish.
  Result<void> run(std::function<void()> job);

  std::size_t queued() const;
  std::size_t refused() const;

 private:
  struct Job;
  void work();

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::size_t refused_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace atrium::identity
