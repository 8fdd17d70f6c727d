#include "identity/hash_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace atrium::identity {

struct HashPool::Job {
  enum class State { kQueued, kRunning, kDone, kDropped };
  std::function<void()> fn;
  State state = State::kQueued;
  std::exception_ptr error;
  std::condition_variable done;
};

HashPool::HashPool(Options options) : options_(options) {
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
}

HashPool::~HashPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& job : queue_) {
      job->state = Job::State::kDropped;
      job->done.notify_all();
    }
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void HashPool::work() {
  if (options_.nice > 0) {
    // Per-thread on Linux: only this worker yields the CPU to the I/O and handler threads.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      job->state = Job::State::kRunning;
    }
    std::exception_ptr error;
    try {
      job->fn();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lock(mu_);
    job->error = error;
    job->state = Job::State::kDone;
    job->done.notify_all();
  }
}

Result<void> HashPool::run(std::function<void()> fn) {
  auto job = std::make_shared<Job>();
  job->fn = std::move(fn);
  std::unique_lock lock(mu_);
  if (stopping_ || queue_.size() >= options_.queue_limit) {
    ++refused_;
    return fail(Error::unavailable("too many sign-ins in progress; retry shortly"));
  }
  queue_.push_back(job);
  cv_.notify_one();
  const auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
  job->done.wait_until(lock, deadline, [&] { return job->state != Job::State::kQueued; });
  if (job->state == Job::State::kQueued) {
    // Not started in time: take it back so it never runs.
    std::erase(queue_, job);
    job->state = Job::State::kDropped;
    ++refused_;
    return fail(Error::unavailable("too many sign-ins in progress; retry shortly"));
  }
  job->done.wait(lock, [&] { return job->state != Job::State::kRunning; });
  if (job->state == Job::State::kDropped) return fail(Error::unavailable("shutting down"));
  if (job->error) std::rethrow_exception(job->error);
  return {};
}

std::size_t HashPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t HashPool::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace atrium::identity
