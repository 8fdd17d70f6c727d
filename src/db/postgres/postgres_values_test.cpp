// Conversions of the server's text forms that need no server.
#include <gtest/gtest.h>

#include "db/postgres/postgres_database.hpp"
#include "platform/clock.hpp"

namespace atrium::db::postgres {
namespace {

TEST(IsoTimestamp, UtcBecomesFormatTimeText) {
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-27 02:44:23.123456+00", true),
            "2026-11-27T02:44:23.123456Z");
  // The server drops trailing zeros of the fraction, and the fraction when it is zero.
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-27 02:44:23.5+00", true),
            "2026-11-27T02:44:23.500000Z");
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-27 02:44:23+00", true),
            "2026-11-27T02:44:23.000000Z");
  const std::string digits = "123456";
  for (std::size_t n = 1; n <= 6; ++n)
    EXPECT_EQ(iso_timestamp_to_rfc3339("1999-12-31 23:59:59." + digits.substr(0, n) + "+00", true),
              "1999-12-31T23:59:59." + digits.substr(0, n) + std::string(6 - n, '0') + "Z");
}

TEST(IsoTimestamp, OffsetsAreConvertedToUtc) {
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-27 03:44:23.1+01", true),
            "2026-11-27T02:44:23.100000Z");
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-01-01 04:00:00+05:30", true),
            "2025-12-31T22:30:00.000000Z");
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-26 21:44:23-05", true),
            "2026-11-27T02:44:23.000000Z");
  // Local mean time before time zones existed carries seconds in its offset.
  EXPECT_EQ(iso_timestamp_to_rfc3339("1890-01-01 00:09:21+00:09:21", true),
            "1890-01-01T00:00:00.000000Z");
}

TEST(IsoTimestamp, WithoutZoneIsTakenAsUtc) {
  EXPECT_EQ(iso_timestamp_to_rfc3339("2026-11-27 02:44:23.123456", false),
            "2026-11-27T02:44:23.123456Z");
}

TEST(IsoTimestamp, AgreesWithFormatTime) {
  const auto t = parse_time("2031-02-28T23:59:59.999999Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(iso_timestamp_to_rfc3339("2031-02-28 23:59:59.999999+00", true), format_time(*t));
}

TEST(IsoTimestamp, WhatItCannotConvertIsKept) {
  for (const char* text :
       {"infinity", "-infinity", "0044-03-15 12:00:00+00 BC", "10000-01-01 00:00:00+00",
        "2026-11-27T02:44:23Z", "", "2026-11-27 02:44:23.+00", "2026-11-27 02:4x:23+00",
        "2026-11-27 02:44:23.12x+00", "2026-11-27 02:44:23 +00"}) {
    EXPECT_EQ(iso_timestamp_to_rfc3339(text, true), text);
  }
}

}  // namespace
}  // namespace atrium::db::postgres
