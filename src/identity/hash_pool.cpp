#include "identity/hash_pool.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace atrium::identity {
namespace {

// struct sched_attr of sched_setattr(2), first version (48 bytes; the kernel accepts it from any
// later one). <linux/sched/types.h> cannot be included beside <sched.h>, and glibc before 2.41 has
// no wrapper.
struct SchedAttr {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime;
  std::uint64_t sched_deadline;
  std::uint64_t sched_period;
};

constexpr std::uint64_t kHashSliceNs = 100'000;  // the kernel's minimum custom slice

// Applies to the calling thread only (Linux schedules threads, not processes).
void lower_priority(const HashPool::Options& options) {
  if (options.idle) {
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
    return;
  }
  if (options.nice <= 0) return;
  const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.sched_policy = SCHED_OTHER;
  attr.sched_nice = options.nice;
  attr.sched_runtime = kHashSliceNs;
  if (syscall(SYS_sched_setattr, tid, &attr, 0u) != 0)
    setpriority(PRIO_PROCESS, static_cast<id_t>(tid), options.nice);
}

}  // namespace

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
  lower_priority(options_);
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
