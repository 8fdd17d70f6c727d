#include "audit/throttle.hpp"

namespace atrium::audit {

Throttle::Throttle(const Clock& clock, std::chrono::seconds window, std::size_t max_keys)
    : clock_(clock), window_(window), max_keys_(max_keys) {}

std::optional<std::uint64_t> Throttle::admit(const std::string& key) {
  const TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    Slot& slot = it->second;
    if (now - slot.written_at < window_) {
      ++slot.suppressed;
      return std::nullopt;
    }
    const std::uint64_t suppressed = slot.suppressed;
    slot = Slot{now, 0};
    return suppressed;
  }
  if (slots_.size() >= max_keys_) {
    // Keys past their window only carry counts of suppressed events, which the metrics have too.
    std::erase_if(slots_,
                  [&](const auto& entry) { return now - entry.second.written_at >= window_; });
    if (slots_.size() >= max_keys_) return 0;
  }
  slots_.emplace(key, Slot{now, 0});
  return 0;
}

}  // namespace atrium::audit
