#include "platform/log.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <regex>

#include "platform/clock.hpp"

namespace atrium::log {
namespace {

TEST(LogLine, IsValidJsonWithEscapedFields) {
  set_level(Level::kDebug);
  Line line(Level::kInfo, "request \"quoted\"");
  line.field("s", std::string_view("a\"b\\c\nd\re\tf\x01g\x7f"))
      .field("n", 42)
      .field("d", 1.5)
      .null_field("z")
      .field("utf8", "héllo");
  auto parsed = nlohmann::json::parse(line.json());
  EXPECT_EQ(parsed["msg"], "request \"quoted\"");
  EXPECT_EQ(parsed["level"], "info");
  EXPECT_EQ(parsed["s"], "a\"b\\c\nd\re\tf\x01g\x7f");
  EXPECT_EQ(parsed["n"], 42);
  EXPECT_DOUBLE_EQ(parsed["d"].get<double>(), 1.5);
  EXPECT_TRUE(parsed["z"].is_null());
  EXPECT_EQ(parsed["utf8"], "héllo");
  EXPECT_EQ(parsed["ts"].get<std::string>().size(), 27u);
  line.emit();
}

TEST(LogLine, EscapesWhereverTheCharacterFalls) {
  // Escaping scans eight bytes at a time: put each character that needs it at every offset of a
  // longer string, among multi-byte UTF-8 text, and read the value back.
  set_level(Level::kInfo);
  for (char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f'}) {
    for (std::size_t at = 0; at < 24; ++at) {
      std::string value =
          "\xc3\xa9"
          "abcdefghijklmnopqrstuvwxyz";
      value.insert(2 + at, 1, special);  // after the two-byte character, never inside it
      Line line(Level::kInfo, "escape");
      line.field("v", value);
      auto parsed = nlohmann::json::parse(line.json());
      EXPECT_EQ(parsed["v"], value) << at << " " << int(special);
    }
  }
}

TEST(LogLine, EscapesShortValuesToo) {
  // Values shorter than a word are checked padded; up to two words, overlapping.
  set_level(Level::kInfo);
  for (char special : {'"', '\\', '\n', '\x01', '\x7f'}) {
    for (std::size_t size = 0; size < 17; ++size) {
      for (std::size_t at = 0; at <= size; ++at) {
        std::string value(size, 'x');
        value.insert(at, 1, special);
        Line line(Level::kInfo, "escape");
        line.field("v", value).field("plain", std::string(size, 'y'));
        auto parsed = nlohmann::json::parse(line.json());
        EXPECT_EQ(parsed["v"], value) << size << " " << at << " " << int(special);
        EXPECT_EQ(parsed["plain"], std::string(size, 'y'));
      }
    }
  }
}

TEST(LogLine, TimestampIsRfc3339WithMicroseconds) {
  set_level(Level::kInfo);
  for (int i = 0; i < 3; ++i) {
    const std::string before = format_time(std::chrono::system_clock::now());
    Line line(Level::kInfo, "time");
    const std::string ts = nlohmann::json::parse(line.json())["ts"];
    EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
        << ts;
    const std::string now = format_time(std::chrono::system_clock::now());  // taken later
    EXPECT_LE(before, ts);
    EXPECT_LE(ts, now);
  }
}

TEST(LogLine, NumbersHaveThreeDecimalsAndStayJson) {
  set_level(Level::kInfo);
  Line line(Level::kInfo, "numbers");
  line.field("third", 2.0 / 3.0)
      .field("negative", -12.3456)
      .field("big", 1e300)
      .field("inf", std::numeric_limits<double>::infinity())
      .field("nan", std::numeric_limits<double>::quiet_NaN());
  const std::string text = line.json();
  EXPECT_NE(text.find("\"third\":0.667,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"negative\":-12.346,"), std::string::npos) << text;
  auto parsed = nlohmann::json::parse(text);
  EXPECT_DOUBLE_EQ(parsed["big"].get<double>(), 1e300);
  EXPECT_TRUE(parsed["inf"].is_null());
  EXPECT_TRUE(parsed["nan"].is_null());
}

TEST(LogLine, DisabledLevelsBuildNothing) {
  set_level(Level::kWarn);
  Line line(Level::kInfo, "quiet");
  line.field("k", "v");
  EXPECT_TRUE(line.json().empty());
  set_level(Level::kInfo);
}

TEST(LogLevels, Parse) {
  Level l;
  EXPECT_TRUE(parse_level("debug", l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_TRUE(parse_level("warning", l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(parse_level("loud", l));
}

}  // namespace
}  // namespace atrium::log
