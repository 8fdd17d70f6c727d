// Time: an injectable clock (tests use FakeClock from tests/support) and RFC 3339 formatting.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace atrium {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// "2026-11-27T02:44:23.123456Z": UTC, fixed width, so text order is time order (the SQLite
// store compares these strings).
std::string format_time(TimePoint t);

// Accepts RFC 3339 with 'Z' or a numeric offset, with or without fractional seconds.
std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace atrium
