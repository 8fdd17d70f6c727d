#include "identity/password.hpp"

#include <gtest/gtest.h>

namespace atrium::identity {
namespace {

// Cheap parameters for speed; the defaults are checked separately.
constexpr PasswordParams kFast{1, 64 * 1024};

TEST(Password, DefaultsAreOwaspArgon2id) {
  PasswordParams p;
  EXPECT_EQ(p.ops_limit, 2u);
  EXPECT_EQ(p.mem_limit, 19u * 1024 * 1024);
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, p);
  auto h = hasher.hash("correct horse battery");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *h;
}

TEST(Password, VerifiesOnlyTheRightPassword) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, kFast);
  auto h = hasher.hash("correct horse battery");
  ASSERT_TRUE(h);
  auto ok = hasher.verify("correct horse battery", *h);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok);
  EXPECT_FALSE(ok->needs_rehash);
  EXPECT_FALSE(hasher.verify("correct horse batterY", *h)->ok);
  EXPECT_FALSE(hasher.verify("", *h)->ok);
  EXPECT_NE(*hasher.hash("correct horse battery"), *h);  // salted
}

TEST(Password, UnknownUsersNeverVerify) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, kFast);
  EXPECT_FALSE(hasher.verify("anything at all", std::nullopt)->ok);
  EXPECT_FALSE(hasher.verify("anything at all", std::string("not-a-hash"))->ok);
}

TEST(Password, OldParametersAskForARehash) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher weak(pool, {1, 32 * 1024});
  PasswordHasher current(pool, kFast);
  auto old_hash = weak.hash("correct horse battery");
  ASSERT_TRUE(old_hash);
  auto check = current.verify("correct horse battery", *old_hash);
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->ok);
  EXPECT_TRUE(check->needs_rehash);
}

}  // namespace
}  // namespace atrium::identity
