#include "tasks/worker.hpp"

#include <algorithm>
#include <cmath>

#include "platform/log.hpp"

namespace atrium::tasks {

using namespace std::chrono_literals;

std::chrono::milliseconds retry_backoff(const WorkerOptions& options, int attempts, double jitter) {
  const double base = static_cast<double>(options.retry_delay.count()) *
                      std::pow(2.0, std::clamp(attempts - 1, 0, 30));
  const double capped = std::min(base, static_cast<double>(options.max_retry_delay.count()));
  const double spread = capped * (1.0 - 0.2 * std::clamp(jitter, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(spread));
}

std::chrono::milliseconds hold_pause(const WorkerOptions& options, int failures) {
  const auto first = std::min<std::chrono::milliseconds>(250ms, options.hold_max_pause);
  const int doublings = std::clamp(failures - 1, 0, 20);
  return std::min<std::chrono::milliseconds>(first * (1 << doublings), options.hold_max_pause);
}

WorkerPool::WorkerPool(TaskStore& store, broker::TaskQueue& queue, const Executors& executors,
                       TaskEvents& events, const Clock& clock, WorkerOptions options,
                       SecretReader secrets, std::function<void()> on_enqueued,
                       metrics::Registry* metrics, DeadLetterSource dead_letters)
    : store_(store),
      queue_(queue),
      executors_(executors),
      events_(events),
      clock_(clock),
      options_(options),
      secrets_(std::move(secrets)),
      on_enqueued_(std::move(on_enqueued)),
      metrics_(metrics),
      dead_letters_(std::move(dead_letters)) {
  if (metrics_) {
    metrics_->gauge("atrium_tasks", "Tasks queued and running, every organization",
                    [counts = counts_] {
                      return std::vector<std::pair<metrics::Labels, double>>{
                          {{{"status", "queued"}}, static_cast<double>(counts->queued.load())},
                          {{{"status", "running"}}, static_cast<double>(counts->running.load())}};
                    });
  }
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty()) return;
  stopping_ = false;
  requeued_ = queue_.durable();
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads_.emplace_back([this] { work(); });
  threads_.emplace_back([this] { receive(); });
  if (dead_letters_) threads_.emplace_back([this] { settle_dead_letters(); });
  threads_.emplace_back([this] { maintenance(); });
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (threads_.empty()) return;
    stopping_ = true;
    for (auto& [id, r] : running_) stop_run(*r, StopReason::kShutdown);
    if (consumer_) consumer_->wake();
  }
  cv_.notify_all();
  jobs_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::stop_run(Running& r, StopReason reason) {
  std::lock_guard lock(r.mu);
  if (r.reason == StopReason::kNone) r.reason = reason;
  r.stop.request_stop();
}

void WorkerPool::cancelled(const std::string& task_id) {
  std::shared_ptr<Running> r;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(task_id);
    if (it == running_.end()) return;
    r = it->second;
  }
  stop_run(*r, StopReason::kCancelled);
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

bool WorkerPool::wait_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

std::chrono::milliseconds WorkerPool::backoff(int attempts) {
  double jitter;
  {
    std::lock_guard lock(rng_mu_);
    jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return retry_backoff(options_, attempts, jitter);
}

void WorkerPool::receive() {
  std::unique_ptr<broker::TaskQueue::Consumer> consumer;
  const int prefetch = options_.prefetch > 0 ? options_.prefetch : std::max(1, options_.workers);
  // Ends the consumer: the broker takes back what it delivered and was not acknowledged
  // (handled again elsewhere, or here by a later consumer; claims are conditional).
  auto drop = [&] {
    {
      std::lock_guard lock(mu_);
      consumer_ = nullptr;
      ++consumer_epoch_;
      outstanding_ = 0;
      jobs_.clear();
      settled_.clear();
    }
    consumer.reset();
  };
  std::vector<std::uint64_t> acks;
  std::vector<std::uint64_t> requeues;
  for (;;) {
    bool stopping;
    std::size_t outstanding;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      for (const auto& s : settled_) (s.how == Settle::kAck ? acks : requeues).push_back(s.tag);
      settled_.clear();
      if (stopping) {
        // Deliveries no worker took go back to the queue, for another process.
        for (const auto& j : jobs_) requeues.push_back(j.delivery.tag);
        outstanding_ -= jobs_.size();
        jobs_.clear();
      }
      outstanding = outstanding_;
    }
    if (consumer && (!acks.empty() || !requeues.empty())) {
      auto settled = consumer->ack_all(acks);
      for (auto tag : requeues)
        if (settled) settled = consumer->nack(tag, /*requeue=*/true);
      // A broken connection: the broker takes the deliveries back, and next() reports it.
      if (!settled)
        log::warn("task deliveries not acknowledged", {{"error", settled.error().detail}});
    }
    acks.clear();
    requeues.clear();
    if (stopping) {
      // Shutdown: the workers give their tasks back (or record them) and settle their
      // deliveries; those are acknowledged before the consumer goes.
      if (!consumer || outstanding == 0) {
        drop();
        return;
      }
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !settled_.empty() || outstanding_ == 0; });
      continue;
    }
    if (!consumer) {
      auto c = queue_.consume({.prefetch = prefetch});
      if (!c) {
        log::warn("worker cannot consume the task queue", {{"error", c.error().detail}});
        wait_unless_stopping(1s);
        continue;
      }
      consumer = std::move(*c);
      std::lock_guard lock(mu_);
      consumer_ = consumer.get();
      continue;
    }
    auto delivery = consumer->next(options_.poll);
    if (!delivery) {
      drop();  // a broken consumer is made anew
      wait_unless_stopping(1s);
      continue;
    }
    if (*delivery) {
      {
        std::lock_guard lock(mu_);
        jobs_.push_back({consumer_epoch_, std::move(**delivery)});
        ++outstanding_;
      }
      jobs_cv_.notify_one();
    }
  }
}

void WorkerPool::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      jobs_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const Settle how = handle(job.delivery);
    bool stopping;
    {
      std::lock_guard lock(mu_);
      if (job.epoch == consumer_epoch_) {
        settled_.push_back({job.delivery.tag, how});
        --outstanding_;
        if (consumer_) consumer_->wake();
      }
      stopping = stopping_;
    }
    // Only a stopping receive() waits on cv_ for settlements.
    if (stopping) cv_.notify_all();
  }
}

WorkerPool::Settle WorkerPool::handle(const broker::Delivery& d) {
  auto ref = parse_queue_body(d.message.body);
  if (!ref) {
    log::warn("task message dropped: malformed", {{"message_id", d.message.id}});
    return Settle::kAck;
  }
  const TaskRef task{ref->task_id, ref->organization_id};
  auto order = events_.order(task.id);
  auto claim = store_.claim(task, ref->generation, clock_.now() + options_.lease,
                            options_.tenant_max_running, options_.busy_delay);
  // The database is unavailable: keep the message and try again after a growing pause. A nack
  // would count towards the queue's delivery limit, and a database restart must not dead-letter
  // healthy tasks. On shutdown the message goes back to the queue.
  for (int failures = 1; !claim; ++failures) {
    const auto pause = hold_pause(options_, failures);
    log::warn("task claim failed; message held",
              {{"task_id", task.id},
               {"error", claim.error().detail},
               {"retry_in_ms", static_cast<std::int64_t>(pause.count())}});
    order.unlock();
    if (!wait_unless_stopping(pause)) return Settle::kRequeue;
    order.lock();
    claim = store_.claim(task, ref->generation, clock_.now() + options_.lease,
                         options_.tenant_max_running, options_.busy_delay);
  }
  if (std::holds_alternative<ClaimRefusal>(*claim)) return Settle::kAck;
  Claimed claimed = std::get<Claimed>(std::move(*claim));
  events_.changed(claimed.task);
  order.unlock();
  run(std::move(claimed));
  return Settle::kAck;
}

void WorkerPool::settle_dead_letters() {
  std::unique_ptr<broker::TaskQueue::Consumer> consumer;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!consumer) {
      auto c = dead_letters_();
      if (!c) {
        log::warn("worker cannot consume the dead letters", {{"error", c.error().detail}});
        if (!wait_unless_stopping(1s)) return;
        continue;
      }
      consumer = std::move(*c);
    }
    auto delivery = consumer->next(options_.poll);
    if (!delivery) {
      consumer.reset();
      if (!wait_unless_stopping(1s)) return;
      continue;
    }
    if (*delivery) settle(*consumer, **delivery);
  }
}

void WorkerPool::settle(broker::TaskQueue::Consumer& consumer, const broker::Delivery& d) {
  auto ref = parse_queue_body(d.message.body);
  if (!ref) {
    log::warn("dead letter dropped: malformed", {{"message_id", d.message.id}});
    (void)consumer.ack(d.tag);
    return;
  }
  const TaskRef task{ref->task_id, ref->organization_id};
  auto order = events_.order(task.id);
  const std::string error(kDeadLetteredError);
  auto failed = store_.fail_dead_lettered(task, ref->generation, error);
  // As in handle(): the database is unavailable, so the dead letter is kept and tried again.
  for (int failures = 1; !failed; ++failures) {
    log::warn("dead-lettered task not settled",
              {{"task_id", task.id}, {"error", failed.error().detail}});
    order.unlock();
    if (!wait_unless_stopping(hold_pause(options_, failures))) {
      (void)consumer.nack(d.tag, /*requeue=*/true);
      return;
    }
    order.lock();
    failed = store_.fail_dead_lettered(task, ref->generation, error);
  }
  if (*failed) {
    log::warn("task failed: its message was dead-lettered",
              {{"task_id", task.id}, {"tenant", task.organization_id}});
    events_.changed(**failed);
  }
  order.unlock();
  (void)consumer.ack(d.tag);
}

void WorkerPool::run(Claimed claimed) {
  auto r = std::make_shared<Running>();
  r->ref = {claimed.task.id, claimed.task.organization_id};
  r->attempt = claimed.task.attempts;
  r->started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    running_[r->ref.id] = r;
    if (stopping_) stop_run(*r, StopReason::kShutdown);
  }

  const Task& task = claimed.task;
  Execution ex{task, claimed.agent, r->stop.get_token(),
               [this, r, &task](const Progress& p) {
                 std::lock_guard lock(r->mu);
                 if (!r->stop.stop_requested()) events_.progress(task, p);
               },
               [this, org = task.organization_id](
                   std::string_view name) -> Result<std::optional<std::string>> {
                 if (!secrets_) return std::optional<std::string>();
                 return secrets_(org, name);
               }};

  Outcome outcome = tl::unexpected(ExecutionError{"the agent's executor is not available", false});
  if (Executor* executor = executors_.find(claimed.agent.executor)) {
    try {
      outcome = executor->run(ex);
    } catch (const std::exception& e) {
      log::error("executor threw", {{"task_id", task.id}, {"error", e.what()}});
      outcome = tl::unexpected(ExecutionError{"the executor failed unexpectedly", false});
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - r->started).count();
  if (metrics_) {
    metrics_
        ->histogram("atrium_task_run_duration_seconds", "Executor run time by executor",
                    {{"executor", claimed.agent.executor}})
        .observe(seconds);
  }

  StopReason reason;
  {
    std::lock_guard lock(mu_);
    running_.erase(r->ref.id);
  }
  {
    std::lock_guard lock(r->mu);
    reason = r->reason;
  }
  record(*r, claimed, outcome, reason);
}

void WorkerPool::record(const Running& r, const Claimed& claimed, const Outcome& outcome,
                        StopReason reason) {
  Result<std::optional<Task>> result = std::optional<Task>();
  auto order = events_.order(r.ref.id);
  switch (reason) {
    case StopReason::kCancelled:
    case StopReason::kLost:
      // The store already says what became of the task (cancelled, or recovered elsewhere).
      log::info("task run stopped",
                {{"task_id", r.ref.id},
                 {"reason", reason == StopReason::kLost ? "lease lost" : "cancelled"}});
      return;
    case StopReason::kShutdown:
      if (!outcome) {
        result = store_.release(r.ref, r.attempt);
        if (on_enqueued_) on_enqueued_();
        break;
      }
      [[fallthrough]];
    case StopReason::kNone:
      if (outcome) {
        result = finish_grouped({r.ref, r.attempt, Status::kSucceeded, *outcome, std::nullopt});
      } else if (outcome.error().retryable && r.attempt < options_.max_attempts) {
        result = store_.retry(r.ref, r.attempt, outcome.error().message,
                              clock_.now() + backoff(r.attempt));
        if (on_enqueued_) on_enqueued_();
      } else {
        result =
            finish_grouped({r.ref, r.attempt, Status::kFailed, nullptr, outcome.error().message});
      }
      break;
    case StopReason::kTimeout:
      result = finish_grouped(
          {r.ref, r.attempt, Status::kFailed, nullptr,
           "the task ran longer than " + std::to_string(options_.timeout.count() / 1000) + " s"});
      break;
  }
  if (!result) {
    // The lease runs out and recovery takes the task up again.
    log::error("task outcome not recorded",
               {{"task_id", r.ref.id}, {"error", result.error().detail}});
    return;
  }
  if (!*result) {
    log::info("task outcome discarded: the task changed meanwhile",
              {{"task_id", r.ref.id}, {"executor", claimed.agent.executor}});
    return;
  }
  events_.changed(**result);
}

Result<std::optional<Task>> WorkerPool::finish_grouped(Finish finish) {
  return finishes_.submit(
      std::move(finish), std::optional<Task>(),
      [this](std::span<FinishCommit::Slot* const> batch) { write_finishes(batch); });
}

void WorkerPool::write_finishes(std::span<FinishCommit::Slot* const> batch) {
  std::vector<bool> written(batch.size(), false);
  for (std::size_t first = 0; first < batch.size(); ++first) {
    if (written[first]) continue;
    const std::string& org = batch[first]->in.ref.organization_id;
    std::vector<std::size_t> members;
    std::vector<Finish> finishes;
    for (std::size_t i = first; i < batch.size(); ++i) {
      if (written[i] || batch[i]->in.ref.organization_id != org) continue;
      written[i] = true;
      members.push_back(i);
      finishes.push_back(batch[i]->in);
    }
    auto results = store_.finish_all(finishes);
    if (!results && results.error().code != Code::kUnavailable && finishes.size() > 1) {
      // One outcome the database refuses (say, output it cannot store) must not take the others
      // down with it: each is written alone.
      for (std::size_t k = 0; k < members.size(); ++k) {
        const Finish& f = finishes[k];
        batch[members[k]]->out = store_.finish(f.ref, f.attempt, f.status, f.output, f.error);
      }
      continue;
    }
    for (std::size_t k = 0; k < members.size(); ++k) {
      if (results) {
        batch[members[k]]->out = std::move((*results)[k]);
      } else {
        batch[members[k]]->out = fail(results.error());
      }
    }
  }
}

void WorkerPool::maintain() {
  const TimePoint now = clock_.now();
  std::vector<std::shared_ptr<Running>> mine;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, r] : running_) mine.push_back(r);
  }
  const auto steady_now = std::chrono::steady_clock::now();
  for (auto& r : mine) {
    if (options_.timeout.count() > 0 && steady_now - r->started > options_.timeout) {
      stop_run(*r, StopReason::kTimeout);
      continue;
    }
    auto ours = store_.heartbeat(r->ref, r->attempt, now + options_.lease);
    if (!ours) {
      log::warn("task lease not renewed", {{"task_id", r->ref.id}, {"error", ours.error().detail}});
    } else if (!*ours) {
      stop_run(*r, StopReason::kLost);
    }
  }

  auto expired = store_.expired_leases(now, 100);
  if (!expired) {
    log::warn("expired leases not checked", {{"error", expired.error().detail}});
    return;
  }
  for (const auto& ref : *expired) {
    auto order = events_.order(ref.id);
    auto t = store_.recover(ref, options_.max_attempts, [this](int a) { return backoff(a); });
    if (!t) {
      log::warn("task not recovered", {{"task_id", ref.id}, {"error", t.error().detail}});
    } else if (*t) {
      events_.changed(**t);
    }
  }
  if (!expired->empty() && on_enqueued_) on_enqueued_();

  // Only when no message waits in the queue: a task behind a backlog is not lost, it waits.
  if (options_.republish_after.count() > 0 && queue_.depth() == std::optional<std::size_t>(0)) {
    auto republished = store_.republish_stale(now - options_.republish_after, 1000);
    if (!republished) {
      log::warn("stale queued tasks not checked", {{"error", republished.error().detail}});
    } else if (*republished > 0 && on_enqueued_) {
      on_enqueued_();
    }
  }
}

Result<void> WorkerPool::requeue_queued() {
  std::optional<std::string> after;
  for (;;) {
    auto last = store_.requeue_queued(after, 500);
    if (!last) return fail(last.error());
    if (!*last) break;
    after = std::move(*last);
    if (on_enqueued_) on_enqueued_();
  }
  return {};
}

void WorkerPool::maintenance() {
  const auto tick = std::clamp(options_.lease / 3, std::chrono::milliseconds(100),
                               std::chrono::milliseconds(10000));
  for (;;) {
    if (!requeued_) {
      if (auto r = requeue_queued(); r) {
        requeued_ = true;
      } else {
        log::warn("queued tasks not requeued yet", {{"error", r.error().detail}});
      }
    }
    maintain();
    if (auto c = store_.count_active(); c) {
      counts_->queued = c->first;
      counts_->running = c->second;
    }
    if (!wait_unless_stopping(tick)) return;
  }
}

}  // namespace atrium::tasks
