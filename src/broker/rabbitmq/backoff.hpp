// The wait between reconnection attempts to the broker.
#pragma once

#include <algorithm>
#include <chrono>

namespace atrium::broker::rabbitmq {

// Grows the wait after each failure (from `initial`, doubling, at most `max`); a success resets
// it. Not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  void failed() {
    delay_ = delay_.count() == 0 ? initial_ : std::min(max_, delay_ * 2);
    next_ = std::chrono::steady_clock::now() + delay_;
  }
  void succeeded() {
    delay_ = {};
    next_ = {};
  }
  // Whether an attempt may start now.
  bool ready() const { return std::chrono::steady_clock::now() >= next_; }
  // The current wait; zero before the first failure.
  std::chrono::milliseconds delay() const { return delay_; }
  // How long until it may.
  std::chrono::milliseconds remaining() const {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        next_ - std::chrono::steady_clock::now()));
  }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace atrium::broker::rabbitmq
