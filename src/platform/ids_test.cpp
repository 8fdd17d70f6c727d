#include "platform/ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace atrium {
namespace {

TEST(Ids, UuidV7Shape) {
  auto id = new_id();
  ASSERT_TRUE(is_uuid(id)) << id;
  EXPECT_EQ(id[14], '7');                                          // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
}

TEST(Ids, StrictlyIncreasingAcrossThreads) {
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::vector<std::string>> per(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) per[t].push_back(new_id());
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : per) {
    for (std::size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
}

TEST(Ids, FormatUuidIsCanonicalLowercase) {
  const unsigned char bytes[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0xac, 0xdd, 0xef, 0xff};
  EXPECT_EQ(format_uuid(bytes), "00010203-0405-0607-0809-0a0bacddefff");
}

TEST(Ids, IsUuidRejects) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e5"));
  EXPECT_FALSE(is_uuid("0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e5g"));
  EXPECT_FALSE(is_uuid("0190b3c2x5a4e-7c3d-8e9f-0a1b2c3d4e5f"));
  EXPECT_TRUE(is_uuid("0190B3C2-5A4E-7C3D-8E9F-0A1B2C3D4E5F"));
}

TEST(Ids, RandomTokensAreUrlSafeAndDistinct) {
  auto a = random_token(32), b = random_token(32);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_of("+/="), std::string::npos);
}

TEST(Ids, HashTokenIsStableAndHidesInput) {
  EXPECT_EQ(hash_token("abc"), hash_token("abc"));
  EXPECT_NE(hash_token("abc"), hash_token("abd"));
  EXPECT_EQ(hash_token("abc").size(), 64u);
  EXPECT_TRUE(secure_equal("same", "same"));
  EXPECT_FALSE(secure_equal("same", "sane"));
  EXPECT_FALSE(secure_equal("same", "samey"));
}

}  // namespace
}  // namespace atrium
