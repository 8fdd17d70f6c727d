// A small, bounded pool for CPU-heavy work (password hashing), separate from the handler pool so
// a login storm cannot take every handler thread: at most `threads` hashes run and `queue_limit`
// wait; beyond that a caller is refused at once (Code::kUnavailable, Retry-After 1 → 503), and a
// job that has not started within `max_wait` is dropped and refused the same way.
//
// Workers run at a lower CPU priority (nice +10 per thread by default) so the I/O thread and
// other handlers win the CPU while hashing soaks up what is left. On a host shared with other
// busy processes that also starves hashing; ATRIUM_HASH_NICE tunes it. Thread-safe.
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
    int nice = 10;  // per-thread niceness (0 = none)
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
