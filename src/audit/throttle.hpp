// Keeps a repeated security event from flooding the audit log: at most one audit row per key per
// window (a refused request: the caller, the route and the refusal), the refusals in between
// counted and reported with the key's next row. The request log and the metrics still see every
// event; only the rows are thinned out.
//
// Keys are held in memory, per process (each replica thins its own); at most `max_keys` at once.
// When that many keys are in their window, a new key is admitted untracked (a row every time)
// rather than lose the event. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "platform/clock.hpp"

namespace atrium::audit {

class Throttle {
 public:
  explicit Throttle(const Clock& clock, std::chrono::seconds window = std::chrono::minutes(1),
                    std::size_t max_keys = 10000);

  // Whether an event with `key` gets an audit row now: the number of events of that key
  // suppressed since its previous row (0 for a first one), or nullopt when this one is suppressed
  // (it is counted for the next row).
  std::optional<std::uint64_t> admit(const std::string& key);

 private:
  struct Slot {
    TimePoint written_at;
    std::uint64_t suppressed = 0;
  };

  const Clock& clock_;
  const std::chrono::seconds window_;
  const std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace atrium::audit
