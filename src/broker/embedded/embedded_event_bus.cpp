#include "broker/embedded/embedded_event_bus.hpp"

#include "platform/log.hpp"

namespace atrium::broker {

EmbeddedEventBus::EmbeddedEventBus(std::size_t capacity)
    : capacity_(capacity), thread_([this] { run(); }) {}

EmbeddedEventBus::~EmbeddedEventBus() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<void> EmbeddedEventBus::publish(Event event) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return fail(Error::unavailable("event bus stopped"));
    if (queue_.size() >= capacity_) return fail(Error::unavailable("event bus full"));
    queue_.push_back(std::move(event));
  }
  cv_.notify_one();
  return {};
}

EventBus::Subscription EmbeddedEventBus::subscribe(EventFilter filter, Handler handler) {
  std::lock_guard lock(handlers_mu_);
  const auto id = next_id_++;
  handlers_.emplace(id, std::make_pair(std::move(filter), std::move(handler)));
  return Subscription([this, id] {
    std::lock_guard relock(handlers_mu_);
    handlers_.erase(id);
  });
}

void EmbeddedEventBus::run() {
  for (;;) {
    Event event;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    std::lock_guard lock(handlers_mu_);
    for (auto& [id, entry] : handlers_) {
      const auto& [filter, handler] = entry;
      if (filter.topic != event.topic) continue;
      if (filter.tenant && *filter.tenant != event.tenant) continue;
      try {
        handler(event);
      } catch (const std::exception& e) {
        log::error("event handler threw", {{"topic", event.topic}, {"error", e.what()}});
      }
    }
  }
}

}  // namespace atrium::broker
