#include "http/json_text.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace atrium::http {
namespace {

std::string dumped(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string written(std::string_view s) {
  JsonText out;
  out.string(s);
  return out.take();
}

TEST(JsonText, StringsAreTheBytesNlohmannWrites) {
  std::vector<std::string> cases = {
      "",
      "plain ascii",
      "quote \" backslash \\ slash /",
      "line\nfeed\rtab\tbell\abackspace\bform\f",
      std::string("nul \0 inside", 12),
      "del \x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",  // 2-, 3- and 4-byte sequences
      "cut \xe2\x82",                               // a sequence cut short
      "overlong \xc0\xaf",
      "surrogate \xed\xa0\x80",
      "beyond \xf4\x90\x80\x80",
      "lone continuation \x80 byte",
  };
  for (int c = 0; c < 0x20; ++c) cases.push_back(std::string(1, static_cast<char>(c)) + "x");
  for (const auto& s : cases) EXPECT_EQ(written(s), dumped(nlohmann::json(s))) << s;
}

TEST(JsonText, ASpecialByteIsFoundAtEveryPositionOfAWord) {
  // Strings are scanned 8 bytes at a time: put each kind of byte at every offset of a few words.
  for (const std::string special : {"\"", "\\", "\n", "\x01", "\x1f", "\xc3\xa9", "\xff"}) {
    for (std::size_t length = 0; length <= 24; ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        std::string s(length, 'a');
        s.insert(at, special);
        EXPECT_EQ(written(s), dumped(nlohmann::json(s))) << s;
      }
    }
  }
}

TEST(JsonText, ContainersSeparateTheirMembers) {
  JsonText out;
  out.begin_object();
  out.key("a");
  out.begin_array();
  out.begin_object();
  out.end_object();
  out.string("x");
  out.null();
  out.value(nlohmann::json{{"k", 1}, {"j", {true, 2.5}}});
  out.begin_array();
  out.end_array();
  out.end_array();
  out.key("b");
  out.null();
  out.end_object();
  nlohmann::json expected = {
      {"a",
       {nlohmann::json::object(), "x", nullptr, nlohmann::json{{"k", 1}, {"j", {true, 2.5}}},
        nlohmann::json::array()}},
      {"b", nullptr}};
  EXPECT_EQ(out.text(), dumped(expected));
}

TEST(JsonText, IntegersAndOptionalStrings) {
  JsonText out;
  out.begin_array();
  for (std::int64_t v :
       {std::int64_t{0}, std::int64_t{-7}, std::int64_t{42},
        std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()})
    out.integer(v);
  out.string_or_null(std::nullopt);
  out.string_or_null("x");
  out.end_array();
  nlohmann::json expected = {0,
                             -7,
                             42,
                             std::numeric_limits<std::int64_t>::min(),
                             std::numeric_limits<std::int64_t>::max(),
                             nullptr,
                             "x"};
  EXPECT_EQ(out.text(), dumped(expected));
}

// A stored object comes out as nlohmann renders it: members sorted, numbers in its format, the
// stored spacing gone; anything that is not an object comes out as an empty object.
TEST(JsonText, StoredObjectsAreWrittenAsNlohmannRendersThem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{}", "{}"},
      {R"({"b": 1, "a": {"y": [1, 2.50], "x": null}})", R"({"a":{"x":null,"y":[1,2.5]},"b":1})"},
      {R"({"n": 1E2, "s": "\u00e9"})", "{\"n\":100.0,\"s\":\"\xc3\xa9\"}"},
      {"[1, 2]", "{}"},
      {"\"text\"", "{}"},
      {"not json", "{}"},
      {"", "{}"}};
  for (const auto& [stored, expected] : cases) {
    JsonText out;
    out.begin_array();
    out.object_text(stored);
    out.object_text("{}");
    out.end_array();
    EXPECT_EQ(out.text(), "[" + expected + ",{}]") << stored;
  }
}

}  // namespace
}  // namespace atrium::http
