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
    // Nobody would receive it: delivered to no one, as it would have been by the thread.
    if (!wanted(event)) return {};
    if (queue_.size() >= capacity_) return fail(Error::unavailable("event bus full"));
    queue_.push_back(std::move(event));
    ++queued_;
  }
  cv_.notify_one();
  return {};
}

bool EmbeddedEventBus::wanted(const Event& event) const {
  auto it = interests_.find(event.topic);
  if (it == interests_.end()) return false;
  return it->second.all_tenants > 0 || it->second.tenants.contains(event.tenant);
}

std::uint64_t EmbeddedEventBus::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

EventBus::Subscription EmbeddedEventBus::subscribe(EventFilter filter, Handler handler) {
  std::lock_guard lock(handlers_mu_);
  const auto id = next_id_++;
  {
    // Before subscribe() returns: every event published afterwards that matches is queued.
    std::lock_guard interests(mu_);
    Interest& in = interests_[filter.topic];
    if (filter.tenant)
      ++in.tenants[*filter.tenant];
    else
      ++in.all_tenants;
  }
  handlers_.emplace(id, std::make_pair(std::move(filter), std::move(handler)));
  return Subscription([this, id] {
    std::lock_guard relock(handlers_mu_);
    auto it = handlers_.find(id);
    if (it == handlers_.end()) return;
    const EventFilter& f = it->second.first;
    {
      std::lock_guard interests(mu_);
      auto topic = interests_.find(f.topic);
      Interest& in = topic->second;
      if (!f.tenant) {
        --in.all_tenants;
      } else if (auto t = in.tenants.find(*f.tenant); --t->second == 0) {
        in.tenants.erase(t);
      }
      if (in.all_tenants == 0 && in.tenants.empty()) interests_.erase(topic);
    }
    handlers_.erase(it);
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
