#include "realtime/tickets.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "db/migrations.hpp"
#include "support/backends.hpp"
#include "support/fake_clock.hpp"

namespace atrium::realtime {
namespace {

using atrium::testing::Backend;
using namespace std::chrono_literals;

class TicketsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create();
    ASSERT_TRUE(db::migrate(*t_->db));
  }
  Principal principal() {
    Principal p;
    p.user_id = "0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e5f";
    p.email = "a@example.com";
    p.org_id = "0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e60";
    p.permissions = {"tasks:read", "org:read"};
    p.session_id = "0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e61";
    p.expires_at = clock_.now() + 1h;
    return p;
  }
  std::unique_ptr<atrium::testing::TestDatabase> t_;
  atrium::testing::FakeClock clock_;
};

TEST_P(TicketsTest, RedeemsOnceForThePrincipal) {
  Tickets tickets(*t_->db, clock_);
  auto ticket = tickets.issue(principal());
  ASSERT_TRUE(ticket) << ticket.error().detail;
  EXPECT_GE(ticket->size(), 40u);
  auto p = tickets.redeem(*ticket);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->user_id, principal().user_id);
  EXPECT_EQ(p->org_id, principal().org_id);
  EXPECT_EQ(p->permissions, principal().permissions);
  EXPECT_EQ(p->session_id, principal().session_id);
  EXPECT_EQ(p->expires_at, principal().expires_at);
  auto again = tickets.redeem(*ticket);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kUnauthenticated);
}

TEST_P(TicketsTest, ExpireAfterTheirLifetime) {
  Tickets tickets(*t_->db, clock_, 30s);
  auto ticket = tickets.issue(principal());
  ASSERT_TRUE(ticket);
  clock_.advance(31s);
  auto r = tickets.redeem(*ticket);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnauthenticated);
}

TEST_P(TicketsTest, UnknownAndMalformedTicketsAreRefused) {
  Tickets tickets(*t_->db, clock_);
  for (std::string bad :
       {std::string(), std::string("nope"), std::string(500, 'x'), std::string("' OR 1=1 --")}) {
    auto r = tickets.redeem(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::kUnauthenticated);
  }
}

TEST_P(TicketsTest, ConcurrentRedemptionsSucceedOnce) {
  Tickets tickets(*t_->db, clock_);
  auto ticket = tickets.issue(principal());
  ASSERT_TRUE(ticket);
  std::atomic<int> wins{0}, losses{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] { (tickets.redeem(*ticket) ? wins : losses)++; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(losses.load(), 7);
}

INSTANTIATE_TEST_SUITE_P(Backends, TicketsTest, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::realtime
