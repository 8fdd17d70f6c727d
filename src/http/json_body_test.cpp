#include "http/json_body.hpp"

#include <gtest/gtest.h>

#include "http/pagination.hpp"

namespace atrium::http {
namespace {

Request with_body(std::string body) {
  Request r;
  r.body = std::move(body);
  return r;
}

Request with_query(std::string query) {
  Request r;
  r.query = std::move(query);
  return r;
}

TEST(ParseObject, RefusesWhatIsNotOneJsonObject) {
  for (const char* bad :
       {"", "   ", "{", "[1,2]", "\"text\"", "42", "{\"a\":1} x", "{\"a\":\"\xff\"}"}) {
    auto r = parse_object(with_body(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidRequest) << bad;
  }
  EXPECT_TRUE(parse_object(with_body(R"({"a": [1, {"b": null}]})")));
}

TEST(ParseObject, RefusesDeepNesting) {
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  auto r = parse_object(with_body(deep));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("deeply"), std::string::npos);
}

TEST(JsonFields, CollectsEveryProblemWithItsField) {
  auto body = nlohmann::json::parse(
      R"({"email": "not-an-email", "name": 7, "extra": true, "count": 1000, "tags": ["a", "a"]})");
  JsonFields f(body);
  EXPECT_FALSE(f.email("email"));
  EXPECT_FALSE(f.string("name"));
  EXPECT_FALSE(f.string("title"));  // required, absent
  EXPECT_FALSE(f.integer("count", 1, 100));
  EXPECT_FALSE(f.strings("tags"));
  auto done = f.finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, Code::kInvalidRequest);
  std::map<std::string, std::string> by_field;
  for (const auto& e : done.error().fields) by_field[e.field] = e.message;
  EXPECT_EQ(by_field.size(), 6u);
  EXPECT_EQ(by_field["email"], "must be a valid email address");
  EXPECT_EQ(by_field["title"], "is required");
  EXPECT_EQ(by_field["extra"], "unknown field");
  EXPECT_EQ(by_field["tags[1]"], "is a duplicate");
  EXPECT_NE(by_field["name"].find("string"), std::string::npos);
  EXPECT_NE(by_field["count"].find("1 to 100"), std::string::npos);
}

TEST(JsonFields, ReadsValidFields) {
  auto body = nlohmann::json::parse(
      R"({"email": " Alice@Example.COM ", "name": "  Alice  ", "n": 3, "ok": false,
          "tags": ["x", "y"], "config": {"k": 1}, "note": null})");
  JsonFields f(body);
  EXPECT_EQ(f.email("email"), "alice@example.com");
  EXPECT_EQ(f.string("name", {.max = 5}), "Alice");
  EXPECT_EQ(f.integer("n", 1, 5), 3);
  EXPECT_EQ(f.boolean("ok"), false);
  EXPECT_EQ(f.strings("tags"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(f.object("config"), nlohmann::json({{"k", 1}}));
  EXPECT_EQ(f.string("note", {.required = false}), std::nullopt);  // null = absent
  EXPECT_TRUE(f.finish());
}

TEST(JsonFields, LengthsCountCharactersNotBytes) {
  auto body = nlohmann::json::parse(R"({"p": "ééééé", "q": "ab\u0001"})");
  JsonFields f(body);
  EXPECT_EQ(f.string("p", {.min = 5, .max = 5}), "ééééé");
  EXPECT_FALSE(f.string("q"));  // control character
  EXPECT_FALSE(f.finish());
  EXPECT_EQ(utf8_length("ééé"), 3u);
}

TEST(JsonFields, RefusesOversizedValues) {
  nlohmann::json body = {{"name", std::string(300, 'a')}, {"blob", {{"x", std::string(100, 'b')}}}};
  JsonFields f(body);
  EXPECT_FALSE(f.string("name", {.max = 200}));
  EXPECT_FALSE(f.object("blob", false, 50));
  EXPECT_FALSE(f.finish());
}

TEST(ValidEmail, AcceptsOrdinaryAddressesOnly) {
  for (const char* ok : {"a@b.co", "first.last+tag@sub.example.org", "x_y-z@a-b.io"})
    EXPECT_TRUE(valid_email(ok)) << ok;
  for (const char* bad :
       {"", "a", "a@", "@b.co", "a@b", "a b@c.io", "a@b..co", "a@-b.co", ".a@b.co", "a..b@c.io",
        "a@b.co\n", "a\"b@c.io", "a@b_c.io", "a@b.c@d.io"})
    EXPECT_FALSE(valid_email(bad)) << bad;
  EXPECT_FALSE(valid_email(std::string(65, 'a') + "@b.co"));
  EXPECT_FALSE(valid_email("a@" + std::string(250, 'b') + ".co"));
}

bool any_key(std::string_view) { return true; }

TEST(Pagination, DefaultsAndBounds) {
  auto q = page_query(with_query(""), any_key);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->limit, 50u);
  EXPECT_FALSE(q->after);
  EXPECT_EQ(page_query(with_query("limit=1"), any_key)->limit, 1u);
  EXPECT_EQ(page_query(with_query("limit=100"), any_key)->limit, 100u);
  for (const char* bad : {"limit=0", "limit=101", "limit=abc", "limit=", "limit=-1", "limit=5x",
                          "cursor=", "cursor=%%%", "cursor=bm90LWEtY3Vyc29y"}) {
    auto r = page_query(with_query(bad), any_key);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidRequest) << bad;
    ASSERT_EQ(r.error().fields.size(), 1u);
  }
}

TEST(Pagination, CursorsRoundTripAndPagesSerialize) {
  auto cursor = make_cursor("0190a1b2-key");
  EXPECT_EQ(read_cursor(cursor), "0190a1b2-key");
  auto q = page_query(with_query("cursor=" + cursor + "&limit=2"), any_key);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->after, "0190a1b2-key");
  EXPECT_EQ(q->limit, 2u);
  // A cursor whose key the list cannot have (another list's, or made up) is refused the same way.
  auto foreign = page_query(with_query("cursor=" + cursor), valid_email);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, Code::kInvalidRequest);
  ASSERT_EQ(foreign.error().fields.size(), 1u);
  EXPECT_EQ(foreign.error().fields[0].field, "cursor");
  auto last = page(nlohmann::json::array({1, 2}), std::nullopt);
  EXPECT_TRUE(last["next_cursor"].is_null());
  auto more = page(nlohmann::json::array({1}), "k");
  EXPECT_EQ(read_cursor(more["next_cursor"].get<std::string>()), "k");
}

}  // namespace
}  // namespace atrium::http
