#include "audit/audit.hpp"

#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"

namespace atrium::audit {
namespace {

using atrium::testing::Backend;

TEST(AuditScrub, DropsSecretLookingMembersRecursively) {
  nlohmann::json details = {{"email", "a@b.co"},
                            {"password", "hunter2hunter2"},
                            {"refresh_token", "x"},
                            {"key", "atr_x"},
                            {"api_key_id", "k1"},
                            {"nested", {{"client_secret", "s"}, {"ok", 1}}},
                            {"list", {{{"token", "t"}, {"n", 2}}}}};
  auto out = scrub(details);
  EXPECT_EQ(out, nlohmann::json({{"email", "a@b.co"},
                                 {"api_key_id", "k1"},
                                 {"nested", {{"ok", 1}}},
                                 {"list", {{{"n", 2}}}}}));
}

class AuditStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
  }
  std::unique_ptr<atrium::testing::TestDatabase> db_;
};

TEST_P(AuditStore, RecordsEveryColumnInTheCallersTransaction) {
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.user_id = "u1";
  p.api_key_id = "k1";
  const std::string org = new_id();  // a uuid column on PostgreSQL
  p.org_id = org;
  http::Request req;
  req.remote_ip = "10.0.0.7";
  req.request_id = "req-1";
  req.headers.add("User-Agent", std::string(400, 'u'));
  auto entry = Entry::by(p, "agent.create")
                   .on("agent", "a1")
                   .from(req)
                   .with({{"name", "bot"}, {"password", "x"}});

  auto ok = (*db_)->transact({.tenant = org}, [&](db::Tx& tx) { return record(tx, entry); });
  ASSERT_TRUE(ok);
  // A rolled-back transaction leaves no entry behind.
  auto rolled = (*db_)->transact({}, [&](db::Tx& tx) -> Result<void> {
    if (auto r = record(tx, Entry::by("system", std::nullopt, "never.kept")); !r) return r;
    return fail(Error::conflict("abort"));
  });
  ASSERT_FALSE(rolled);

  // Every entry, of any organization or none (row-level security on PostgreSQL).
  auto rows = (*db_)->transact({.read_only = true, .cross_tenant_read = "test"}, [&](db::Tx& tx) {
    return tx.query(
        "SELECT organization_id, actor_type, actor_id, action, target_type, target_id, ip,"
        " user_agent, request_id, details, created_at FROM audit_log");
  });
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  const auto& r = rows->front();
  EXPECT_EQ(r.text(0), org);
  EXPECT_EQ(r.text(1), "api_key");
  EXPECT_EQ(r.text(2), "k1");
  EXPECT_EQ(r.text(3), "agent.create");
  EXPECT_EQ(r.text(4), "agent");
  EXPECT_EQ(r.text(5), "a1");
  EXPECT_EQ(r.text(6), "10.0.0.7");
  EXPECT_EQ(r.text(7).size(), 256u);
  EXPECT_EQ(r.text(8), "req-1");
  EXPECT_EQ(nlohmann::json::parse(r.text(9)), nlohmann::json({{"name", "bot"}}));
  EXPECT_TRUE(parse_time(r.text(10)));
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditStore, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::audit
