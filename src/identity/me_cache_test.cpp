#include "identity/me_cache.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/fake_clock.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;
using atrium::testing::FakeClock;

Principal user(std::string id, std::optional<std::string> org) {
  Principal p;
  p.user_id = std::move(id);
  p.org_id = std::move(org);
  p.permissions = {"org:read", "tasks:read"};
  p.session_id = "s1";
  return p;
}

MeCache::View view(const std::string& name) {
  return {R"({"email":"a@b.co","id":"u1","name":")" + name + R"("})",
          R"({"id":"o1","name":"Org","slug":"org"})",
          R"([{"organization":{"id":"o1"},"roles":["USER"]}])"};
}

TEST(MeCache, ComposesWhatNlohmannWouldWrite) {
  const auto p = user("u1", "o1");
  const auto v = view("Ann");
  nlohmann::json expected = {{"user", nlohmann::json::parse(v.user)},
                             {"organization", nlohmann::json::parse(v.organization)},
                             {"memberships", nlohmann::json::parse(v.memberships)},
                             {"permissions", p.permissions},
                             {"session_id", "s1"}};
  EXPECT_EQ(MeCache::compose(p, v), expected.dump());

  // Custom permissions may hold anything a JSON string must escape.
  auto odd = p;
  odd.permissions = {"", "quote\"d", "back\\slash", "line\nbreak", "caf\u00e9:read", "\x7f"};
  odd.session_id = "s\"2";
  expected["permissions"] = odd.permissions;
  expected["session_id"] = odd.session_id;
  EXPECT_EQ(MeCache::compose(odd, v), expected.dump());

  Principal key = p;
  key.kind = Principal::Kind::kApiKey;
  key.api_key_id = "k\"1";
  auto parsed = nlohmann::json::parse(MeCache::compose(key, v));
  EXPECT_EQ(parsed["api_key"]["id"], "k\"1");
  EXPECT_FALSE(parsed.contains("session_id"));
}

TEST(MeCache, ComposesInvalidUtf8AsReplacementCharacters) {
  auto p = user("u1", "o1");
  p.permissions = {"bad\xff:read"};
  std::string body;
  ASSERT_NO_THROW(body = MeCache::compose(p, view("Ann")));
  const auto parsed = nlohmann::json::parse(body);
  EXPECT_EQ(parsed["permissions"][0], "bad\xef\xbf\xbd:read");  // U+FFFD
}

TEST(MeCache, EntriesExpireAndAreKeyedByUserAndOrganization) {
  FakeClock clock;
  MeCache cache(clock, 2s);
  const auto p = user("u1", "o1");
  EXPECT_FALSE(cache.render(p));
  cache.put(p, view("Ann"));
  ASSERT_TRUE(cache.render(p));
  EXPECT_NE(cache.render(p)->find("Ann"), std::string::npos);
  EXPECT_FALSE(cache.contains(user("u1", "o2")));
  EXPECT_FALSE(cache.contains(user("u1", std::nullopt)));
  // Each caller's own permissions and session go in, not the first caller's.
  auto other_session = p;
  other_session.session_id = "s2";
  other_session.permissions = {"*"};
  auto body = nlohmann::json::parse(*cache.render(other_session));
  EXPECT_EQ(body["session_id"], "s2");
  EXPECT_EQ(body["permissions"], nlohmann::json({"*"}));
  clock.advance(1999ms);
  EXPECT_TRUE(cache.contains(p));
  clock.advance(1ms);
  EXPECT_FALSE(cache.contains(p));
}

TEST(MeCache, ForgetsByUserAndByOrganization) {
  FakeClock clock;
  MeCache cache(clock);
  cache.put(user("u1", "o1"), view("a"));
  cache.put(user("u1", "o2"), view("b"));
  cache.put(user("u2", "o1"), view("c"));
  cache.forget_user("u1");
  EXPECT_FALSE(cache.contains(user("u1", "o1")));
  EXPECT_FALSE(cache.contains(user("u1", "o2")));
  EXPECT_TRUE(cache.contains(user("u2", "o1")));
  cache.forget_organization("o1");
  EXPECT_FALSE(cache.contains(user("u2", "o1")));
}

TEST(MeCache, StaysWithinItsBound) {
  FakeClock clock;
  MeCache cache(clock, 2s, 3);
  for (int i = 0; i < 10; ++i) cache.put(user("u" + std::to_string(i), "o"), view("x"));
  EXPECT_TRUE(cache.contains(user("u9", "o")));
  int held = 0;
  for (int i = 0; i < 10; ++i) held += cache.contains(user("u" + std::to_string(i), "o"));
  EXPECT_LE(held, 3);
}

}  // namespace
}  // namespace atrium::identity
