// A clock that moves only when told to.
#pragma once

#include <atomic>

#include "platform/clock.hpp"

namespace atrium::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'800'000'000)))
      : now_(start.time_since_epoch().count()) {}

  TimePoint now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void advance(TimePoint::duration d) { now_.fetch_add(d.count()); }
  void set(TimePoint t) { now_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<TimePoint::duration::rep> now_;
};

}  // namespace atrium::testing
