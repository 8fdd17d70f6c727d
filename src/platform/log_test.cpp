#include "platform/log.hpp"

#include <gtest/gtest.h>

#include <limits>

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
