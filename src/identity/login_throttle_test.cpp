#include "identity/login_throttle.hpp"

#include <gtest/gtest.h>

#include "support/fake_clock.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;
using atrium::testing::FakeClock;

TEST(LoginThrottle, BlocksAnAccountAfterItsLimitUntilTheWindowMoves) {
  FakeClock clock;
  LoginThrottle t(clock, {.per_account = 3, .per_address = 100, .window = 60s});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.blocked("a@x.io", "1.1.1.1"));
    t.failed("a@x.io", "1.1.1.1");
    clock.advance(10s);
  }
  auto wait = t.blocked("a@x.io", "2.2.2.2");  // the account, from any address
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 30);  // the first failure leaves the window 60 s after it happened
  EXPECT_FALSE(t.blocked("b@x.io", "1.1.1.1"));
  clock.advance(30s);
  EXPECT_FALSE(t.blocked("a@x.io", "1.1.1.1"));
}

TEST(LoginThrottle, BlocksAnAddressAcrossAccounts) {
  FakeClock clock;
  LoginThrottle t(clock, {.per_account = 100, .per_address = 4, .window = 60s});
  for (int i = 0; i < 4; ++i) t.failed("user" + std::to_string(i) + "@x.io", "9.9.9.9");
  auto wait = t.blocked("fresh@x.io", "9.9.9.9");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 60);
  EXPECT_FALSE(t.blocked("fresh@x.io", "8.8.8.8"));
}

TEST(LoginThrottle, SuccessClearsTheAccountButNotTheAddress) {
  FakeClock clock;
  LoginThrottle t(clock, {.per_account = 2, .per_address = 3, .window = 60s});
  t.failed("a@x.io", "1.1.1.1");
  t.failed("a@x.io", "1.1.1.1");
  ASSERT_TRUE(t.blocked("a@x.io", "5.5.5.5"));
  t.succeeded("a@x.io");
  EXPECT_FALSE(t.blocked("a@x.io", "5.5.5.5"));
  t.failed("b@x.io", "1.1.1.1");
  EXPECT_TRUE(t.blocked("c@x.io", "1.1.1.1"));
}

TEST(LoginThrottle, ForgetsTheLeastRecentKeysBeyondItsBound) {
  FakeClock clock;
  LoginThrottle t(clock, {.per_account = 1, .per_address = 1000, .window = 60s, .max_keys = 4});
  t.failed("old@x.io", "");
  for (int i = 0; i < 4; ++i) t.failed("new" + std::to_string(i) + "@x.io", "");
  EXPECT_FALSE(t.blocked("old@x.io", ""));  // evicted
  EXPECT_TRUE(t.blocked("new3@x.io", ""));
}

}  // namespace
}  // namespace atrium::identity
