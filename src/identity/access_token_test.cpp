// The access-token verifier against libjwt (the reference) and the negative cases of issue #4.
#include "identity/access_token.hpp"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <random>

#include "platform/base64url.hpp"
#include "platform/ids.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "k3y-0f-at-least-thirty-two-bytes-for-hs256-xxxxxxxxxxxxxxx";
const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

std::vector<JwtKey> ring_keys() {
  return {{"k1", kSecret}, {"k0", "an-older-key-still-verifying-0123456789"}};
}

AccessClaims claims_at(TimePoint now) {
  AccessClaims c;
  c.sub = new_id();
  c.email = "alice@example.com";
  c.org_id = new_id();
  c.permissions = {"org:read", "agents:*", "tasks:create"};
  c.iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  c.exp = c.iat + 3600;
  c.jti = make_jti(now);
  c.sid = new_id();
  return c;
}

// Signs arbitrary header and payload text with HMAC-SHA256 (OpenSSL's one-shot HMAC: a third
// implementation, so the tests do not trust either verifier's).
std::string sign_raw(std::string_view header, std::string_view payload,
                     const std::string& key = kSecret) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

nlohmann::json payload_of(const AccessClaims& c) {
  return {{"iss", "atrium"},  {"aud", "atrium"},     {"sub", c.sub},
          {"email", c.email}, {"org_id", *c.org_id}, {"permissions", c.permissions},
          {"iat", c.iat},     {"exp", c.exp},        {"jti", c.jti},
          {"sid", c.sid}};
}

const std::string kHeader = R"({"alg":"HS256","kid":"k1","typ":"JWT"})";

// Both verifiers must agree; returns whether they accepted.
bool agree(const KeyRing& keys, const std::string& token, TimePoint now = kNow) {
  auto fast = verify_access_token(keys, token, now);
  auto ref = verify_access_token_reference(keys, token, now);
  EXPECT_EQ(fast.has_value(), ref.has_value()) << "token: " << token;
  if (fast && ref) {
    EXPECT_EQ(fast->sub, ref->sub);
    EXPECT_EQ(fast->email, ref->email);
    EXPECT_EQ(fast->org_id, ref->org_id);
    EXPECT_EQ(fast->permissions, ref->permissions);
    EXPECT_EQ(fast->iat, ref->iat);
    EXPECT_EQ(fast->exp, ref->exp);
    EXPECT_EQ(fast->nbf, ref->nbf);
    EXPECT_EQ(fast->jti, ref->jti);
    EXPECT_EQ(fast->sid, ref->sid);
    EXPECT_EQ(fast->kid, ref->kid);
  }
  if (!fast) {
    EXPECT_EQ(fast.error().code, Code::kUnauthenticated);
  }
  return fast.has_value();
}

TEST(AccessToken, SignedTokensVerifyWithTheirClaims) {
  KeyRing keys(ring_keys());
  auto c = claims_at(kNow);
  auto token = sign_access_token(keys, c);
  ASSERT_TRUE(token);
  EXPECT_TRUE(agree(keys, *token));
  auto v = verify_access_token(keys, *token, kNow);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kid, "k1");
  EXPECT_EQ(v->permissions, c.permissions);
  EXPECT_EQ(v->issued_ms(), 1'800'000'000'000LL);

  // The header is what API.md promises: HS256 with a kid.
  auto header = nlohmann::json::parse(*base64url_decode(token->substr(0, token->find('.'))));
  EXPECT_EQ(header["alg"], "HS256");
  EXPECT_EQ(header["kid"], "k1");

  c.org_id.reset();
  auto no_org = sign_access_token(keys, c);
  ASSERT_TRUE(no_org);
  auto v2 = verify_access_token(keys, *no_org, kNow);
  ASSERT_TRUE(v2);
  EXPECT_FALSE(v2->org_id);
}

TEST(AccessToken, OlderKeysStillVerifyAfterRotation) {
  KeyRing old_ring(std::vector<JwtKey>{{"k0", "an-older-key-still-verifying-0123456789"}});
  auto token = sign_access_token(old_ring, claims_at(kNow));
  ASSERT_TRUE(token);
  EXPECT_TRUE(agree(KeyRing(ring_keys()), *token));  // k1 signs now, k0 still verifies
  KeyRing without_k0(std::vector<JwtKey>{{"k1", kSecret}});
  EXPECT_FALSE(agree(without_k0, *token));
}

TEST(AccessToken, TimeChecksAllowASmallSkewOnly) {
  KeyRing keys(ring_keys());
  auto c = claims_at(kNow);
  auto token = *sign_access_token(keys, c);
  EXPECT_TRUE(agree(keys, token, kNow + 3600s + 29s));   // within leeway
  EXPECT_FALSE(agree(keys, token, kNow + 3600s + 30s));  // expired
  EXPECT_TRUE(agree(keys, token, kNow - 29s));           // issued "in the future", by skew
  EXPECT_FALSE(agree(keys, token, kNow - 31s));          // really in the future
  auto expired = verify_access_token(keys, token, kNow + 2h);
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().detail.find("expired"), std::string::npos);

  auto p = payload_of(c);
  p["nbf"] = c.iat + 100;
  EXPECT_FALSE(agree(keys, sign_raw(kHeader, p.dump())));
  EXPECT_TRUE(agree(keys, sign_raw(kHeader, p.dump()), kNow + 100s));
  p["nbf"] = c.iat + 20;  // inside the skew
  EXPECT_TRUE(agree(keys, sign_raw(kHeader, p.dump())));
}

// Issue #4's negative cases, at the verifier (identity_api_test.cpp checks each answers 401 and
// changes nothing through the API).
TEST(AccessToken, RefusesEveryNegativeCase) {
  KeyRing keys(ring_keys());
  auto c = claims_at(kNow);
  const std::string good = *sign_access_token(keys, c);
  const auto p = payload_of(c);
  const std::string body = p.dump();
  auto without = [&](const char* claim) {
    auto q = p;
    q.erase(claim);
    return sign_raw(kHeader, q.dump());
  };
  auto with = [&](const char* claim, nlohmann::json v) {
    auto q = p;
    q[claim] = std::move(v);
    return sign_raw(kHeader, q.dump());
  };
  auto tampered = p;
  tampered["permissions"] = nlohmann::json::array({"*"});
  const auto dot2 = good.rfind('.');
  const std::string unsigned_part = good.substr(0, dot2);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alg none", sign_raw(R"({"alg":"none","kid":"k1"})", body).substr(0, dot2) + "."},
      {"alg none, signed", sign_raw(R"({"alg":"none","kid":"k1"})", body)},
      {"alg nOnE", sign_raw(R"({"alg":"nOnE","kid":"k1"})", body)},
      {"alg HS512", sign_raw(R"({"alg":"HS512","kid":"k1"})", body)},
      {"alg RS256", sign_raw(R"({"alg":"RS256","kid":"k1"})", body)},
      {"alg missing", sign_raw(R"({"kid":"k1"})", body)},
      {"empty signature", unsigned_part + "."},
      {"truncated signature", good.substr(0, good.size() - 5)},
      {"signature of another token", unsigned_part + good.substr(dot2, 10) + std::string(33, 'A')},
      {"wrong key", sign_raw(kHeader, body, "some-other-key-of-plenty-of-length-000000")},
      {"unknown kid", sign_raw(R"({"alg":"HS256","kid":"k9"})", body)},
      {"kid with a path", sign_raw(R"({"alg":"HS256","kid":"../../etc/passwd"})", body)},
      {"kid with SQL", sign_raw(R"({"alg":"HS256","kid":"k1' OR '1'='1"})", body)},
      {"kid not a string", sign_raw(R"({"alg":"HS256","kid":1})", body)},
      {"jwk header with the attacker's key",
       sign_raw(R"({"alg":"HS256","kid":"k1","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}})", body,
                "attacker")},
      {"jku header", sign_raw(R"({"alg":"HS256","kid":"evil","jku":"https://evil.example/jwks"})",
                              body, "attacker")},
      {"x5u header",
       sign_raw(R"({"alg":"HS256","x5u":"https://evil.example/cert"})", body, "attacker")},
      {"crit header", sign_raw(R"({"alg":"HS256","kid":"k1","crit":["exp"]})", body)},
      {"typ not JWT", sign_raw(R"({"alg":"HS256","kid":"k1","typ":"refresh"})", body)},
      {"expired", with("exp", c.iat - 3600)},
      {"nbf in the future", with("nbf", c.iat + 3600)},
      {"iat in the future", with("iat", c.iat + 3600)},
      {"wrong iss", with("iss", "someone-else")},
      {"wrong aud", with("aud", "another-service")},
      {"aud array without atrium", with("aud", {"a", "b"})},
      {"missing sub", without("sub")},
      {"missing exp", without("exp")},
      {"missing iat", without("iat")},
      {"missing sid", without("sid")},
      {"missing jti", without("jti")},
      {"missing permissions", without("permissions")},
      {"missing org_id", without("org_id")},
      {"permissions not a list", with("permissions", "*")},
      {"exp as a string", with("exp", std::to_string(c.exp))},
      {"exp as a float", with("exp", static_cast<double>(c.exp) + 0.5)},
      {"jti not a UUIDv7", with("jti", "not-a-uuid")},
      {"tampered payload", good.substr(0, good.find('.')) + "." +
                               base64url_encode(tampered.dump()) + good.substr(dot2)},
      {"refresh token as access token", random_token(32)},
      {"API key shape", "atr_" + random_token(32)},
      {"non-base64url garbage", "!!!.@@@.###"},
      {"padded segments", good.substr(0, good.find('.')) + "==" + good.substr(good.find('.'))},
      {"two segments", unsigned_part},
      {"four segments", good + ".AAAA"},
      {"empty", ""},
      {"dots only", ".."},
      {"oversized", std::string(kMaxTokenBytes + 1, 'A')},
      {"oversized, validly signed", with("pad", std::string(kMaxTokenBytes, 'x'))},
      {"payload not an object", sign_raw(kHeader, "[1,2,3]")},
      {"payload not JSON", sign_raw(kHeader, "{\"sub\":")},
      {"duplicate claim",
       sign_raw(kHeader, body.substr(0, body.size() - 1) + R"(,"sub":"other"})")},
      {"NUL in a claim", with("email", std::string("a\0b", 3))},
      {"whitespace around the token", " " + good},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& [name, token] : cases) {
    auto fast = verify_access_token(keys, token, kNow);
    auto ref = verify_access_token_reference(keys, token, kNow);
    EXPECT_FALSE(fast) << name;
    EXPECT_FALSE(ref) << name;
    if (!fast) {
      EXPECT_EQ(fast.error().code, Code::kUnauthenticated) << name;
    }
  }
}

TEST(AccessToken, AcceptsWhatTheContractAllows) {
  KeyRing keys(ring_keys());
  auto c = claims_at(kNow);
  auto p = payload_of(c);
  EXPECT_TRUE(agree(keys, sign_raw(R"({"alg":"HS256","kid":"k1"})", p.dump())));  // no typ
  EXPECT_TRUE(agree(keys, sign_raw(R"({"typ":"jwt","kid":"k0","alg":"HS256"})", p.dump(),
                                   "an-older-key-still-verifying-0123456789")));
  EXPECT_TRUE(agree(keys, sign_raw(R"({"alg":"HS256","kid":"k1","jku":"https://x"})", p.dump())));
  p["aud"] = {"other", "atrium"};
  p["extra"] = {{"nested", {1, 2.5, -3, nullptr, true}}};
  EXPECT_TRUE(agree(keys, sign_raw(kHeader, p.dump())));
  p["org_id"] = nullptr;
  EXPECT_TRUE(agree(keys, sign_raw(kHeader, p.dump())));
}

// JSON corner cases where parsers commonly differ: both verifiers must decide alike.
TEST(AccessToken, DifferentialOnJsonCornerCases) {
  KeyRing keys(ring_keys());
  auto c = claims_at(kNow);
  std::string body = payload_of(c).dump();
  body.pop_back();  // reopen the object to append members
  const std::vector<std::string> extras = {
      R"(,"x":9223372036854775807)",
      R"(,"x":9223372036854775808)",
      R"(,"x":-9223372036854775808)",
      R"(,"x":-9223372036854775809)",
      R"(,"x":1e400)",
      R"(,"x":1e-400)",
      R"(,"x":-0)",
      R"(,"x":1.0)",
      R"(,"x":1E5)",
      R"(,"x":"\u0000")",
      R"(,"x\u0000":1)",
      R"(,"x":"\ud800")",
      R"(,"x":"\udc00\ud800")",
      R"(,"x":"\ud83d\ude00")",
      R"(,"x":"\uD83D\uDE00")",
      R"(,"x":"é")",
      "\t,\n\"x\"\r:1 ",
      R"(,"x":01)",
      R"(,"x":.5)",
      R"(,"x":+1)",
      R"(,"x":[1,])",
      R"(,"x":{"a":1,"a":2})",
      R"(,"x":NaN)",
      R"(,"x":"a\/b")",
      R"(,"x":"\x")",
      R"(,"x":true)",
      R"(,"x":nul)",
      ",\"x\":\"\x7f\"",
      ",\"x\":\"\x01\"",
      ",\"x\":\"\xff\"",
      ",\"x\":\"\xc0\x80\"",
      ",\"x\":\"\xed\xa0\x80\"",
      R"(,"exp":)" + std::to_string(c.exp) + "",
      R"(,"x":)" + std::string(31, '[') + std::string(31, ']'),
      R"(,"x":)" + std::string(32, '[') + std::string(32, ']'),
      R"(,"x":)" + std::string(2000, '[') + std::string(2000, ']'),
  };
  for (const auto& extra : extras) {
    agree(keys, sign_raw(kHeader, body + extra + "}"));
    agree(keys, sign_raw(R"({"alg":"HS256","kid":"k1")" + extra + "}", payload_of(c).dump()));
  }
  // Byte-order mark, trailing content, whitespace.
  agree(keys, sign_raw("\xEF\xBB\xBF" + kHeader, payload_of(c).dump()));
  agree(keys, sign_raw(kHeader, "\xEF\xBB\xBF" + payload_of(c).dump()));
  agree(keys, sign_raw(kHeader, payload_of(c).dump() + " "));
  agree(keys, sign_raw(kHeader, payload_of(c).dump() + "x"));
  agree(keys, sign_raw(kHeader, payload_of(c).dump() + std::string("\0", 1)));
  agree(keys, sign_raw(kHeader, " " + payload_of(c).dump()));
  // Many members.
  std::string wide = payload_of(c).dump();
  wide.pop_back();
  for (int i = 0; i < 60; ++i) wide += ",\"m" + std::to_string(i) + "\":" + std::to_string(i);
  agree(keys, sign_raw(kHeader, wide + "}"));
}

// Random byte mutations of signed tokens and of the JSON under a valid signature.
TEST(AccessToken, DifferentialOnRandomMutations) {
  KeyRing keys(ring_keys());
  std::mt19937 rng(20240611);
  auto c = claims_at(kNow);
  const std::string good = *sign_access_token(keys, c);
  const std::string body = payload_of(c).dump();
  const std::string alphabet = "{}[]\":,0123456789.-+eE \\u\"abcnulltruefalse\x00\x7f\xc3\xa9\xff";
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string token = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const auto pos = rng() % token.size();
      token[pos] = static_cast<char>(rng() % 256);
    }
    accepted += agree(keys, token);
  }
  for (int i = 0; i < 3000; ++i) {
    std::string json = (i % 2) ? body : kHeader;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const auto pos = rng() % json.size();
      switch (rng() % 3) {
        case 0:
          json[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          json.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          json.erase(pos, 1);
      }
    }
    accepted += agree(keys, (i % 2) ? sign_raw(kHeader, json) : sign_raw(json, body));
  }
  EXPECT_GT(accepted, 0);  // some mutations (e.g. inside strings) stay valid: both must accept
}

TEST(AccessToken, Uuid7Millis) {
  EXPECT_EQ(uuid7_millis(make_jti(kNow)), 1'800'000'000'000LL);
  EXPECT_EQ(uuid7_millis("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"), 0x0190a1b2c3d4LL);
  EXPECT_FALSE(uuid7_millis("0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b"));  // version 4
  EXPECT_FALSE(uuid7_millis("0190a1b2-c3d4-7e5f-ca6b-7c8d9e0f1a2b"));  // wrong variant
  EXPECT_FALSE(uuid7_millis("not-a-uuid"));
}

TEST(KeyRing, RefusesUnusableKeys) {
  EXPECT_THROW(KeyRing(std::vector<JwtKey>{}), std::invalid_argument);
  EXPECT_THROW(KeyRing(std::vector<JwtKey>{{"a", ""}}), std::invalid_argument);
  EXPECT_THROW(KeyRing(std::vector<JwtKey>{{"a", "x"}, {"a", "y"}}), std::invalid_argument);
  // A key longer than SHA-256's block is hashed first (RFC 2104), as libjwt/OpenSSL do.
  KeyRing long_key(std::vector<JwtKey>{{"big", std::string(200, 'z')}});
  auto token = sign_access_token(long_key, claims_at(kNow));
  ASSERT_TRUE(token);
  EXPECT_TRUE(agree(long_key, *token));
}

}  // namespace
}  // namespace atrium::identity
