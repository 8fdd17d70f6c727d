#include "audit/throttle.hpp"

#include <gtest/gtest.h>

#include "support/fake_clock.hpp"

namespace atrium::audit {
namespace {

using namespace std::chrono_literals;
using atrium::testing::FakeClock;

TEST(AuditThrottle, OneRowPerKeyPerWindowWithTheSuppressedCount) {
  FakeClock clock;
  Throttle throttle(clock, 60s);
  EXPECT_EQ(throttle.admit("a"), 0u);
  EXPECT_EQ(throttle.admit("a"), std::nullopt);
  EXPECT_EQ(throttle.admit("a"), std::nullopt);
  EXPECT_EQ(throttle.admit("b"), 0u);  // keys are independent
  clock.advance(59s);
  EXPECT_EQ(throttle.admit("a"), std::nullopt);
  clock.advance(1s);
  EXPECT_EQ(throttle.admit("a"), 3u);  // the three refusals since its last row
  EXPECT_EQ(throttle.admit("a"), std::nullopt);
  clock.advance(60s);
  EXPECT_EQ(throttle.admit("a"), 1u);
  EXPECT_EQ(throttle.admit("b"), 0u);
}

TEST(AuditThrottle, BoundedKeysAdmitRatherThanLoseEvents) {
  FakeClock clock;
  Throttle throttle(clock, 60s, 2);
  EXPECT_EQ(throttle.admit("a"), 0u);
  EXPECT_EQ(throttle.admit("b"), 0u);
  // Full of keys in their window: a new key is written every time, untracked.
  EXPECT_EQ(throttle.admit("c"), 0u);
  EXPECT_EQ(throttle.admit("c"), 0u);
  EXPECT_EQ(throttle.admit("a"), std::nullopt);
  // Once their window has passed they make room.
  clock.advance(60s);
  EXPECT_EQ(throttle.admit("c"), 0u);
  EXPECT_EQ(throttle.admit("c"), std::nullopt);
}

}  // namespace
}  // namespace atrium::audit
