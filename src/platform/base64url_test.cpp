#include "platform/base64url.hpp"

#include <gtest/gtest.h>

#include "platform/ids.hpp"

namespace atrium {
namespace {

TEST(Base64Url, KnownVectors) {
  // RFC 4648 §10, URL-safe alphabet, padding removed.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64Url, RoundTripsRandomBytes) {
  for (std::size_t n = 0; n < 100; ++n) {
    const std::string raw = random_bytes(n);
    EXPECT_EQ(base64url_decode(base64url_encode(raw)), raw) << n;
  }
}

TEST(Base64Url, RejectsEverythingNonCanonical) {
  EXPECT_FALSE(base64url_decode("Zm9v="));  // padding
  EXPECT_FALSE(base64url_decode("Zg=="));   // padding
  EXPECT_FALSE(base64url_decode("+/8"));    // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9 v"));  // space
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));     // non-zero trailing bits ("Zg" is canonical)
  EXPECT_FALSE(base64url_decode("Zm9"));    // non-zero trailing bits ("Zm8")
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
  EXPECT_TRUE(base64url_decode("Zg"));
}

}  // namespace
}  // namespace atrium
