#include "http/message.hpp"

#include <gtest/gtest.h>

namespace atrium::http {
namespace {

TEST(Message, HeadersAreCaseInsensitive) {
  Headers h;
  h.add("Content-Type", "text/plain");
  EXPECT_EQ(h.get("content-type"), "text/plain");
  h.set("CONTENT-TYPE", "application/json");
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("Content-Type"), "application/json");
  EXPECT_FALSE(h.get("Accept"));
}

TEST(Message, HeaderBlockReplacesFieldsOfItsNames) {
  static const HeaderBlock block({{"X-Frame-Options", "DENY"}, {"Cache-Control", "no-store"}});
  Headers h;
  h.set("Content-Type", "application/json");
  h.add("cache-control", "max-age=60");
  h.add("Cache-Control", "public");
  h.set_block(block);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.get("cache-control"), "no-store");
  EXPECT_EQ(h.get("x-frame-options"), "DENY");
  EXPECT_EQ(h.get("Content-Type"), "application/json");

  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& [name, value] : h) seen.emplace_back(name, value);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Content-Type", "application/json"},
      {"X-Frame-Options", "DENY"},
      {"Cache-Control", "no-store"}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(block.wire(), "X-Frame-Options: DENY\r\nCache-Control: no-store\r\n");
}

TEST(Message, SettingABlocksFieldKeepsTheOthers) {
  static const HeaderBlock block({{"X-Frame-Options", "DENY"}, {"Cache-Control", "no-store"}});
  Headers h;
  h.set_block(block);
  h.set("X-Request-Id", "r1");  // not the block's: the block stays attached
  EXPECT_EQ(h.block(), &block);
  h.set("cache-control", "max-age=5");
  EXPECT_EQ(h.block(), nullptr);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.get("Cache-Control"), "max-age=5");
  EXPECT_EQ(h.get("X-Frame-Options"), "DENY");

  Headers twice;
  twice.set_block(block);
  twice.add("X-Frame-Options", "SAMEORIGIN");
  EXPECT_EQ(twice.size(), 3u);
  EXPECT_EQ(twice.get("X-Frame-Options"), "DENY");  // the first of that name
}

TEST(Message, HeaderBlockRefusesWhatCouldBreakTheResponse) {
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_THROW(HeaderBlock(Fields{{"X-A", "a\r\nSet-Cookie: x=1"}}), std::invalid_argument);
  EXPECT_THROW(HeaderBlock(Fields{{"X-A\n", "a"}}), std::invalid_argument);
  EXPECT_THROW(HeaderBlock(Fields{{"", "a"}}), std::invalid_argument);
  EXPECT_THROW(HeaderBlock(Fields{{"content-length", "1"}}), std::invalid_argument);
  EXPECT_THROW(HeaderBlock(Fields{{"Connection", "close"}}), std::invalid_argument);
  EXPECT_THROW(HeaderBlock(Fields{{"X-A", "1"}, {"x-a", "2"}}), std::invalid_argument);
}

TEST(Message, QueryParametersDecode) {
  Request r;
  r.query = "limit=10&status=running&q=a%20b+c&empty=&flag&bad=%zz";
  EXPECT_EQ(r.query_param("limit"), "10");
  EXPECT_EQ(r.query_param("q"), "a b c");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_FALSE(r.query_param("missing"));
  EXPECT_FALSE(r.query_param("bad"));
}

TEST(Message, PercentDecodeRefusesMalformedAndNul) {
  EXPECT_EQ(percent_decode("a%2Fb"), "a/b");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%G0"));
  EXPECT_FALSE(percent_decode("a%00b"));
}

TEST(Message, ProblemFollowsTheContract) {
  Error e = Error::invalid("bad input", {{"name", "must not be empty"}});
  Response r = problem(e, "req-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["status"], 400);
  EXPECT_EQ(body["code"], "invalid_request");
  EXPECT_EQ(body["title"], "Invalid request");
  EXPECT_EQ(body["detail"], "bad input");
  EXPECT_EQ(body["request_id"], "req-1");
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_EQ(body["errors"][0]["field"], "name");
  EXPECT_EQ(body["errors"][0]["message"], "must not be empty");
}

TEST(Message, RateLimitedCarriesRetryAfter) {
  Error e{Code::kRateLimited, "slow down", {}, 30};
  Response r = problem(e, "x");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.get("Retry-After"), "30");
  EXPECT_EQ(nlohmann::json::parse(r.body)["code"], "rate_limited");
}

TEST(Message, EveryCodeHasAStatusAndName) {
  for (int c = 0; c <= static_cast<int>(Code::kUnavailable); ++c) {
    auto code = static_cast<Code>(c);
    EXPECT_GE(http_status(code), 400);
    EXPECT_FALSE(code_name(code).empty());
    EXPECT_FALSE(title(code).empty());
  }
}

}  // namespace
}  // namespace atrium::http
