#include "identity/revocation.hpp"

#include <gtest/gtest.h>

#include "broker/embedded/embedded_event_bus.hpp"
#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"
#include "support/fake_clock.hpp"

namespace atrium::identity {
namespace {

using namespace std::chrono_literals;
using atrium::testing::Backend;
using atrium::testing::FakeClock;

AccessClaims token(const std::string& user, const std::optional<std::string>& org,
                   const std::string& sid, TimePoint issued) {
  AccessClaims c;
  c.sub = user;
  c.org_id = org;
  c.sid = sid;
  c.jti = make_jti(issued);
  c.iat = std::chrono::duration_cast<std::chrono::seconds>(issued.time_since_epoch()).count();
  c.exp = c.iat + 3600;
  return c;
}

std::int64_t ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Revocation rev(Revocation::Kind kind, std::string subject, std::optional<std::string> org,
               TimePoint cutoff) {
  return Revocation{new_id(),       kind,       std::move(subject),
                    std::move(org), ms(cutoff), ms(cutoff + 2h)};
}

TEST(RevocationList, MatchesEachKindAsDocumented) {
  const TimePoint t0 = TimePoint(std::chrono::seconds(1'800'000'000));
  RevocationList list;
  const auto before = token("u1", "o1", "s1", t0 - 1ms);
  const auto after = token("u1", "o1", "s2", t0 + 1ms);
  EXPECT_FALSE(list.revoked(before));

  list.apply(rev(Revocation::Kind::kMember, "u1", "o1", t0));
  EXPECT_TRUE(list.revoked(before));
  EXPECT_FALSE(list.revoked(after));                              // issued after the change
  EXPECT_FALSE(list.revoked(token("u1", "o2", "s3", t0 - 1ms)));  // another organization
  EXPECT_FALSE(list.revoked(token("u2", "o1", "s4", t0 - 1ms)));  // another user

  list.apply(rev(Revocation::Kind::kSession, "s2", std::nullopt, t0));
  EXPECT_TRUE(list.revoked(after));  // every token of the session, whenever issued

  list.apply(rev(Revocation::Kind::kOrganization, "o9", std::nullopt, t0));
  EXPECT_TRUE(list.revoked(token("u7", "o9", "s5", t0 - 1ms)));
  EXPECT_FALSE(list.revoked(token("u7", "o9", "s5", t0 + 1ms)));

  list.apply(rev(Revocation::Kind::kUser, "u8", std::nullopt, t0));
  EXPECT_TRUE(list.revoked(token("u8", std::nullopt, "s6", t0 - 1ms)));
  EXPECT_TRUE(list.revoked(token("u8", "o3", "s7", t0 - 1ms)));

  list.apply(rev(Revocation::Kind::kApiKey, "k1", std::nullopt, t0));
  EXPECT_TRUE(list.api_key_revoked("k1"));
  EXPECT_FALSE(list.api_key_revoked("k2"));
}

TEST(RevocationList, AppliesOnceAndForgetsExpiredEntries) {
  const TimePoint t0 = TimePoint(std::chrono::seconds(1'800'000'000));
  RevocationList list;
  int calls = 0;
  list.on_apply([&](const Revocation&) { ++calls; });
  auto r = rev(Revocation::Kind::kSession, "s1", std::nullopt, t0);
  EXPECT_TRUE(list.apply(r));
  EXPECT_FALSE(list.apply(r));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(list.size(), 1u);
  list.prune(ms(t0 + 1h));
  EXPECT_EQ(list.size(), 1u);
  list.prune(ms(t0 + 2h));
  EXPECT_EQ(list.size(), 0u);
  EXPECT_FALSE(list.revoked(token("u", "o", "s1", t0)));
}

TEST(Revocation, JsonRoundTripAndRefusal) {
  auto r = rev(Revocation::Kind::kMember, "u1", "o1", TimePoint(std::chrono::seconds(5)));
  auto back = Revocation::from_json(r.to_json());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->org_id, r.org_id);
  EXPECT_EQ(back->cutoff_ms, r.cutoff_ms);
  for (const char* bad :
       {"", "{}", "[]", R"({"id":"x","kind":"member","subject":"u","cutoff_ms":1,"expires_ms":2})",
        R"({"id":"x","kind":"nope","subject":"u","cutoff_ms":1,"expires_ms":2})"})
    EXPECT_FALSE(Revocation::from_json(bad)) << bad;
}

class Replicas : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
  }
  std::unique_ptr<atrium::testing::TestDatabase> db_;
  FakeClock clock_{TimePoint(std::chrono::system_clock::now())};
};

TEST_P(Replicas, PollingCatchesUpWithoutTheBus) {
  Revocations a(**db_, nullptr, clock_);
  Revocations b(**db_, nullptr, clock_);
  ASSERT_TRUE(a.poll());
  ASSERT_TRUE(b.poll());
  const std::string org = new_id();  // an organization column: a UUID on PostgreSQL
  const auto old = token("u1", org, "s1", clock_.now() - 1s);
  clock_.advance(1s);
  const auto r = a.member("u1", org);
  ASSERT_TRUE((*db_)->transact({}, [&](db::Tx& tx) { return a.stage(tx, r); }));
  a.announce(r);
  EXPECT_TRUE(a.list().revoked(old));   // at once where it happened
  EXPECT_FALSE(b.list().revoked(old));  // no bus: the other replica has not heard yet
  clock_.advance(2s);
  ASSERT_TRUE(b.poll());
  EXPECT_TRUE(b.list().revoked(old));

  // A replica that starts later loads what is still live.
  Revocations c(**db_, nullptr, clock_);
  ASSERT_TRUE(c.poll());
  EXPECT_TRUE(c.list().revoked(old));
  // ... but not what has expired.
  clock_.advance(kAccessTokenTtl + 10min);
  Revocations d(**db_, nullptr, clock_);
  ASSERT_TRUE(d.poll());
  EXPECT_EQ(d.list().size(), 0u);
}

TEST_P(Replicas, TheBusReachesOtherReplicasWithoutPolling) {
  broker::EmbeddedEventBus bus;
  Revocations a(**db_, &bus, clock_);
  Revocations b(**db_, &bus, clock_);
  const auto old = token("u1", "o1", "s1", clock_.now());
  clock_.advance(1s);
  a.announce(a.session("s1"));
  EXPECT_TRUE(a.list().revoked(old));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!b.list().revoked(old) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(b.list().revoked(old));
}

INSTANTIATE_TEST_SUITE_P(Backends, Replicas, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::identity
