#include "identity/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/resource.h>

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

// Accounts created before the hashing moved from libsodium to libargon2 keep their strings: both
// write the same PHC format, and each verifies the other's.
TEST(Password, VerifiesLibsodiumHashesAndLibsodiumVerifiesOurs) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, kFast);
  const std::string password = "correct horse battery";
  char theirs[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(theirs, password.data(), password.size(), kFast.ops_limit,
                                  kFast.mem_limit, crypto_pwhash_ALG_ARGON2ID13),
            0);
  auto check = hasher.verify(password, std::string(theirs));
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->ok) << theirs;
  EXPECT_FALSE(check->needs_rehash);
  EXPECT_FALSE(hasher.verify("correct horse batterY", std::string(theirs))->ok);

  auto ours = hasher.hash(password);
  ASSERT_TRUE(ours);
  EXPECT_EQ(crypto_pwhash_str_verify(ours->c_str(), password.data(), password.size()), 0) << *ours;
  EXPECT_NE(crypto_pwhash_str_verify(ours->c_str(), "wrong", 5), 0);
  EXPECT_EQ(crypto_pwhash_str_needs_rehash(ours->c_str(), kFast.ops_limit, kFast.mem_limit), 0);
}

// A damaged or foreign stored string never verifies, and never makes the hasher allocate what it
// asks for or read past it.
TEST(Password, DamagedStoredHashesNeverVerify) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, kFast);
  const std::string password = "correct horse battery";
  auto good = hasher.hash(password);
  ASSERT_TRUE(good);
  ASSERT_TRUE(hasher.verify(password, *good)->ok);
  const std::string tail = good->substr(good->find("$", 1 + good->find("p=")));  // "$salt$hash"
  for (const std::string& bad : {
           std::string(), std::string("$argon2id$"),
           good->substr(0, good->size() - 1),                // truncated hash
           *good + "A",                                      // longer hash
           *good + "$",                                      // trailing field
           "$argon2i$v=19$m=64,t=1,p=1" + tail,              // another variant
           "$argon2id$v=16$m=64,t=1,p=1" + tail,             // another version
           "$argon2id$v=19$m=64,t=1,p=1,x=1" + tail,         // unknown parameter
           "$argon2id$v=19$m=4294967295,t=1,p=1" + tail,     // 4 TiB of memory
           "$argon2id$v=19$m=1073741824000,t=1,p=1" + tail,  // overflows 32 bits
           "$argon2id$v=19$m=64,t=0,p=1" + tail,             // no pass
           "$argon2id$v=19$m=64,t=100000,p=1" + tail,        // too many passes
           "$argon2id$v=19$m=64,t=1,p=0" + tail,             // no lane
           "$argon2id$v=19$m=64,t=1,p=99" + tail,            // too many lanes
           "$argon2id$v=19$m=-64,t=1,p=1" + tail,            // negative
           "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + tail.substr(tail.rfind('$') + 1),  // short salt
           "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!!!!!!!!!!!!$" + tail.substr(tail.rfind('$') + 1),
           "$argon2id$v=19$m=64,t=1,p=1" + tail.substr(0, tail.rfind('$')) + "$" +
               std::string(200, 'A'),  // 150-byte hash
       }) {
    auto check = hasher.verify(password, bad);
    ASSERT_TRUE(check) << bad;
    EXPECT_FALSE(check->ok) << bad;
  }
}

// Each hashing thread reuses its memory: a hash after the first one touches no fresh page. A hash
// that mapped 19 MiB afresh would fault on each of its 4,864 pages (with 4 KiB pages).
TEST(Password, HashingReusesTheThreadsMemory) {
  HashPool pool({.threads = 1, .queue_limit = 2});
  PasswordHasher hasher(pool, PasswordParams{});
  ASSERT_TRUE(hasher.hash("correct horse battery"));
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  ASSERT_TRUE(hasher.hash("correct horse battery"));
  ASSERT_TRUE(hasher.verify("correct horse battery", std::nullopt));
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const long pages = static_cast<long>(PasswordParams{}.mem_limit / 4096);
  EXPECT_LT(after.ru_minflt - before.ru_minflt, pages / 8);
}

}  // namespace
}  // namespace atrium::identity
