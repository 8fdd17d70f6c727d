#include "platform/clock.hpp"

#include <gtest/gtest.h>

namespace atrium {
namespace {

TEST(Clock, FormatsFixedWidthUtc) {
  TimePoint t{std::chrono::seconds(1'800'000'000) + std::chrono::microseconds(42)};
  EXPECT_EQ(format_time(t), "2027-01-15T08:00:00.000042Z");
}

TEST(Clock, FormatsLeapDaysAndEpochEdges) {
  auto leap = parse_time("2028-02-29T23:59:59.999999Z");
  ASSERT_TRUE(leap);
  EXPECT_EQ(format_time(*leap), "2028-02-29T23:59:59.999999Z");
  EXPECT_EQ(format_time(TimePoint{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_time(TimePoint{std::chrono::microseconds(-1)}), "1969-12-31T23:59:59.999999Z");
}

TEST(Clock, RoundTrips) {
  TimePoint t{std::chrono::microseconds(1'764'211'463'123'456)};
  auto parsed = parse_time(format_time(t));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, t);
}

TEST(Clock, ParsesOffsetsAndShortFractions) {
  auto a = parse_time("2026-11-27T03:44:23.5+01:00");
  auto b = parse_time("2026-11-27T02:44:23.500000Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(parse_time("2026-11-27T02:44:23Z"));
}

TEST(Clock, RejectsMalformed) {
  for (const char* bad :
       {"", "2026-11-27", "2026-13-01T00:00:00Z", "2026-11-27T02:44:23", "2026-11-27T02:44:23.Z",
        "2026-11-27T02:44:23Zjunk", "x026-11-27T02:44:23Z"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

}  // namespace
}  // namespace atrium
