#include "identity/verified_tokens.hpp"

#include <gtest/gtest.h>

#include "access/permissions.hpp"
#include "platform/ids.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

struct Signed {
  std::string token;
  AccessClaims claims;
};

Signed issue(const KeyRing& keys, std::string sub) {
  AccessClaims c;
  c.sub = std::move(sub);
  c.email = "a@example.com";
  c.permissions = {"org:read"};
  c.iat = 1'800'000'000;
  c.exp = c.iat + 3600;
  c.jti = make_jti(kNow);
  c.sid = new_id();
  auto token = sign_access_token(keys, c);
  EXPECT_TRUE(token);
  c.kid = keys.signing_key().kid;
  return {*token, c};
}

TEST(VerifiedTokenCache, AnswersWhatTheVerifierAnsweredAndRechecksTime) {
  KeyRing keys(std::vector<JwtKey>{{"k", "a-key-for-the-cache-tests-000000000000"}});
  VerifiedTokenCache cache;
  auto t = issue(keys, "u1");
  EXPECT_FALSE(cache.find(t.token, kNow));
  auto verified = verify_access_token(keys, t.token, kNow);
  ASSERT_TRUE(verified);
  cache.put(t.token, *verified);

  auto hit = cache.find(t.token, kNow + 10s);
  ASSERT_TRUE(hit);
  ASSERT_TRUE(*hit);
  const auto& entry = **hit;
  EXPECT_EQ(entry->claims.sub, "u1");
  EXPECT_EQ(entry->claims.sid, t.claims.sid);
  // The Principal is built once, with its permissions compiled.
  EXPECT_EQ(entry->principal.user_id, "u1");
  EXPECT_EQ(entry->principal.session_id, t.claims.sid);
  EXPECT_EQ(entry->principal.token_id, t.claims.jti);
  EXPECT_EQ(entry->principal.permissions, t.claims.permissions);
  EXPECT_EQ(entry->principal.catalog_grants, access::compile_grants(t.claims.permissions));

  auto expired = cache.find(t.token, kNow + 2h);
  ASSERT_TRUE(expired);
  ASSERT_FALSE(*expired);
  EXPECT_EQ(expired->error().code, Code::kUnauthenticated);
}

TEST(VerifiedTokenCache, ATokenWithACachedSignatureButOtherBytesIsNotAHit) {
  KeyRing keys(std::vector<JwtKey>{{"k", "a-key-for-the-cache-tests-000000000000"}});
  VerifiedTokenCache cache;
  auto t = issue(keys, "u1");
  cache.put(t.token, *verify_access_token(keys, t.token, kNow));
  auto other = issue(keys, "u2");
  // u2's header and payload with u1's signature: must go to the verifier (which refuses it).
  const std::string forged =
      other.token.substr(0, other.token.rfind('.')) + t.token.substr(t.token.rfind('.'));
  EXPECT_FALSE(cache.find(forged, kNow));
  EXPECT_FALSE(verify_access_token(keys, forged, kNow));
}

TEST(VerifiedTokenCache, AHitInOneCacheIsNotAHitInAnother) {
  // A thread remembers its last hit; another cache (other keys, say) must still answer alone.
  KeyRing keys(std::vector<JwtKey>{{"k", "a-key-for-the-cache-tests-000000000000"}});
  auto t = issue(keys, "u1");
  auto verified = verify_access_token(keys, t.token, kNow);
  ASSERT_TRUE(verified);
  VerifiedTokenCache first;
  first.put(t.token, *verified);
  ASSERT_TRUE(first.find(t.token, kNow));
  ASSERT_TRUE(first.find(t.token, kNow));  // the remembered hit
  {
    VerifiedTokenCache other;
    EXPECT_FALSE(other.find(t.token, kNow));
  }
  VerifiedTokenCache later;  // possibly where `other` was
  EXPECT_FALSE(later.find(t.token, kNow));
  // And a remembered entry still has its time rules checked.
  auto expired = first.find(t.token, kNow + 2h);
  ASSERT_TRUE(expired);
  EXPECT_FALSE(*expired);
}

TEST(VerifiedTokenCache, StaysWithinItsBound) {
  KeyRing keys(std::vector<JwtKey>{{"k", "a-key-for-the-cache-tests-000000000000"}});
  VerifiedTokenCache cache;
  for (std::size_t i = 0; i < VerifiedTokenCache::kShards * VerifiedTokenCache::kPerShard + 100;
       ++i) {
    auto t = issue(keys, "u" + std::to_string(i));
    cache.put(t.token, t.claims);
  }
  EXPECT_LE(cache.size(), VerifiedTokenCache::kShards * VerifiedTokenCache::kPerShard);
}

}  // namespace
}  // namespace atrium::identity
