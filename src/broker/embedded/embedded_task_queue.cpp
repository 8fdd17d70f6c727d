#include "broker/embedded/embedded_task_queue.hpp"

#include "platform/log.hpp"

namespace atrium::broker {

struct EmbeddedTaskQueue::State {
  struct Pending {
    QueueMessage message;
    int deliveries = 0;
  };
  struct KeyQueue {
    std::deque<Pending> ready;
    int in_flight = 0;
    bool in_ring = false;
  };
  struct Unacked {
    Pending pending;
    const void* owner;
  };

  explicit State(EmbeddedTaskQueueOptions o) : options(o) {}

  const EmbeddedTaskQueueOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  std::unordered_map<std::string, KeyQueue> keys;
  std::deque<std::string> ring;  // keys with waiting messages, in turn order
  std::unordered_map<std::uint64_t, Unacked> unacked;
  std::size_t waiting = 0;
  std::uint64_t next_tag = 1;
  std::uint64_t dropped = 0;
  std::shared_ptr<State> dead;  // where messages dropped at the limit go; null for the dead queue

  std::size_t held() const { return waiting + unacked.size(); }

  void enqueue(Pending p, bool front) {
    const std::string key = p.message.key;
    auto& kq = keys[key];
    if (front) {
      kq.ready.push_front(std::move(p));
    } else {
      kq.ready.push_back(std::move(p));
    }
    ++waiting;
    if (!kq.in_ring) {
      kq.in_ring = true;
      ring.push_back(key);
    }
  }

  void forget_if_idle(const std::string& key) {
    auto it = keys.find(key);
    if (it != keys.end() && it->second.ready.empty() && it->second.in_flight == 0 &&
        !it->second.in_ring)
      keys.erase(it);
  }

  // The next message by turn among keys below their in-flight cap; called with `mu` held.
  std::optional<Delivery> take(const void* owner) {
    const int cap = options.max_in_flight_per_key;
    for (std::size_t turns = ring.size(); turns > 0; --turns) {
      std::string key = std::move(ring.front());
      ring.pop_front();
      auto& kq = keys[key];
      if (kq.ready.empty()) {
        kq.in_ring = false;
        forget_if_idle(key);
        continue;
      }
      if (cap > 0 && kq.in_flight >= cap) {
        ring.push_back(std::move(key));
        continue;
      }
      Pending p = std::move(kq.ready.front());
      kq.ready.pop_front();
      --waiting;
      ++kq.in_flight;
      if (kq.ready.empty()) {
        kq.in_ring = false;
      } else {
        ring.push_back(key);
      }
      ++p.deliveries;
      Delivery d{next_tag++, p.deliveries, p.message};
      unacked.emplace(d.tag, Unacked{std::move(p), owner});
      return d;
    }
    return std::nullopt;
  }

  enum class Settle { kAck, kRequeue, kReject };

  // Ends an unacknowledged delivery: acknowledged, back to wait again (below the delivery limit;
  // dead-lettered at it), or rejected (dead-lettered at once, as RabbitMQ does with a nack without
  // requeue). Called with `mu` held. Returns false for an unknown tag.
  bool settle(std::uint64_t tag, const void* owner, Settle how) {
    auto it = unacked.find(tag);
    if (it == unacked.end() || it->second.owner != owner) return false;
    Pending p = std::move(it->second.pending);
    unacked.erase(it);
    const std::string key = p.message.key;
    --keys[key].in_flight;
    if (how == Settle::kRequeue && p.deliveries < options.delivery_limit) {
      enqueue(std::move(p), /*front=*/true);
    } else if (how != Settle::kAck) {
      ++dropped;
      log::warn(how == Settle::kReject ? "task queue dead-lettered a rejected message"
                                       : "task queue dead-lettered a message at its delivery limit",
                {{"message_id", p.message.id}, {"deliveries", p.deliveries}});
      if (dead) {
        // Always taken after this queue's own lock, never the other way round.
        std::lock_guard dead_lock(dead->mu);
        if (!dead->closed && dead->held() < dead->options.capacity) {
          dead->enqueue({std::move(p.message), 0}, /*front=*/false);
          dead->cv.notify_all();
        }
      }
    }
    forget_if_idle(key);
    cv.notify_all();
    return true;
  }
};

class EmbeddedTaskQueue::ConsumerImpl final : public TaskQueue::Consumer {
 public:
  ConsumerImpl(std::shared_ptr<State> state, int prefetch)
      : state_(std::move(state)), prefetch_(std::max(1, prefetch)) {}

  ~ConsumerImpl() override {
    std::lock_guard lock(state_->mu);
    std::vector<std::uint64_t> mine;
    for (const auto& [tag, u] : state_->unacked)
      if (u.owner == this) mine.push_back(tag);
    for (auto tag : mine) state_->settle(tag, this, State::Settle::kRequeue);
  }

  Result<std::optional<Delivery>> next(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(state_->mu);
    for (;;) {
      if (state_->closed) return fail(Error::unavailable("task queue closed"));
      if (held_ < prefetch_) {
        if (auto d = state_->take(this)) {
          ++held_;
          return d;
        }
      }
      if (woken_) {
        woken_ = false;
        return std::optional<Delivery>();
      }
      if (state_->cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        if (state_->closed) return fail(Error::unavailable("task queue closed"));
        if (held_ < prefetch_) {
          if (auto d = state_->take(this)) {
            ++held_;
            return d;
          }
        }
        return std::optional<Delivery>();
      }
    }
  }

  Result<void> ack(std::uint64_t tag) override {
    std::lock_guard lock(state_->mu);
    if (state_->settle(tag, this, State::Settle::kAck)) --held_;
    return {};
  }

  Result<void> nack(std::uint64_t tag, bool requeue) override {
    std::lock_guard lock(state_->mu);
    if (state_->settle(tag, this, requeue ? State::Settle::kRequeue : State::Settle::kReject))
      --held_;
    return {};
  }

  Result<void> ack_all(std::span<const std::uint64_t> tags) override {
    std::lock_guard lock(state_->mu);
    for (auto tag : tags)
      if (state_->settle(tag, this, State::Settle::kAck)) --held_;
    return {};
  }

  void wake() override {
    {
      std::lock_guard lock(state_->mu);
      woken_ = true;
    }
    state_->cv.notify_all();
  }

 private:
  std::shared_ptr<State> state_;
  const int prefetch_;
  int held_ = 0;        // guarded by state_->mu
  bool woken_ = false;  // guarded by state_->mu
};

EmbeddedTaskQueue::EmbeddedTaskQueue(EmbeddedTaskQueueOptions options)
    : state_(std::make_shared<State>(options)),
      dead_(std::make_shared<State>(EmbeddedTaskQueueOptions{
          .capacity = options.capacity, .max_in_flight_per_key = 0, .delivery_limit = 1 << 20})) {
  state_->dead = dead_;
}

EmbeddedTaskQueue::~EmbeddedTaskQueue() {
  close();
  {
    std::lock_guard lock(dead_->mu);
    dead_->closed = true;
  }
  dead_->cv.notify_all();
}

Result<std::unique_ptr<TaskQueue::Consumer>> EmbeddedTaskQueue::consume_dead_letters(
    const ConsumerOptions& options) {
  std::lock_guard lock(dead_->mu);
  if (dead_->closed) return fail(Error::unavailable("task queue closed"));
  return std::unique_ptr<Consumer>(std::make_unique<ConsumerImpl>(dead_, options.prefetch));
}

std::size_t EmbeddedTaskQueue::dead_letters() const {
  std::lock_guard lock(dead_->mu);
  return dead_->waiting;
}

Result<void> EmbeddedTaskQueue::publish(std::span<const QueueMessage> batch) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closed) return fail(Error::unavailable("task queue closed"));
    if (state_->held() + batch.size() > state_->options.capacity)
      return fail(Error::unavailable("task queue full"));
    for (const auto& m : batch) state_->enqueue({m, 0}, /*front=*/false);
  }
  state_->cv.notify_all();
  return {};
}

Result<std::unique_ptr<TaskQueue::Consumer>> EmbeddedTaskQueue::consume(
    const ConsumerOptions& options) {
  std::lock_guard lock(state_->mu);
  if (state_->closed) return fail(Error::unavailable("task queue closed"));
  return std::unique_ptr<Consumer>(std::make_unique<ConsumerImpl>(state_, options.prefetch));
}

std::optional<std::size_t> EmbeddedTaskQueue::depth() const {
  std::lock_guard lock(state_->mu);
  return state_->waiting;
}

Result<void> EmbeddedTaskQueue::ping() {
  std::lock_guard lock(state_->mu);
  if (state_->closed) return fail(Error::unavailable("task queue closed"));
  return {};
}

void EmbeddedTaskQueue::close() {
  {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
  }
  state_->cv.notify_all();
}

std::uint64_t EmbeddedTaskQueue::dropped() const {
  std::lock_guard lock(state_->mu);
  return state_->dropped;
}

}  // namespace atrium::broker
