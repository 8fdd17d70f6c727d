// A small pool of threads with a bounded queue, for work that must not run on an I/O thread
// (a database read for a WebSocket message, say). Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace atrium {

class WorkQueue {
 public:
  WorkQueue(int threads, std::size_t capacity);
  ~WorkQueue();  // runs what is queued, then joins

  // False (and `work` is dropped) when the queue is full or stopping.
  bool post(std::function<void()> work);

 private:
  void run();
  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace atrium
