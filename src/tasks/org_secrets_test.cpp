#include "tasks/org_secrets.hpp"

#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "platform/secret_box.hpp"
#include "support/backends.hpp"
#include "support/tenants.hpp"

namespace atrium::tasks {
namespace {

using testing::Backend;

class OrgSecretsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    ASSERT_TRUE(db::migrate(**db_));
    org_a_ = testing::add_organization(**db_, "alpha");
    org_b_ = testing::add_organization(**db_, "beta");
  }

  void put(const std::string& org, const std::string& name, const Sealed& s) {
    auto r = (*db_)->transact({.tenant = org, .read_only = false}, [&](db::Tx& tx) -> Result<void> {
      auto n = tx.execute(
          "INSERT INTO org_secrets (organization_id, name, ciphertext, nonce, updated_at) "
          "VALUES ($1, $2, $3, $4, $5)",
          {org, name, s.ciphertext, s.nonce, format_time(std::chrono::system_clock::now())});
      if (!n) return fail(n.error());
      return {};
    });
    ASSERT_TRUE(r);
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::string key_ = random_bytes(32);
  std::string org_a_, org_b_;
};

TEST_P(OrgSecretsTest, ReadsTheOrganizationsOwnSecret) {
  put(org_a_, "llm_api_key", seal_secret(key_, org_secret_context(org_a_, "llm_api_key"), "sk-a"));
  auto read = org_secret_reader(**db_, key_);
  EXPECT_EQ(read(org_a_, "llm_api_key").value(), std::optional<std::string>("sk-a"));
  EXPECT_EQ(read(org_b_, "llm_api_key").value(), std::nullopt);
  EXPECT_EQ(read(org_a_, "other").value(), std::nullopt);
}

TEST_P(OrgSecretsTest, ASecretMovedFromAnotherOrganizationDoesNotOpen) {
  put(org_b_, "llm_api_key", seal_secret(key_, org_secret_context(org_a_, "llm_api_key"), "sk-a"));
  auto read = org_secret_reader(**db_, key_);
  auto r = read(org_b_, "llm_api_key");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInternal);
  auto other_key = org_secret_reader(**db_, random_bytes(32));
  put(org_a_, "llm_api_key", seal_secret(key_, org_secret_context(org_a_, "llm_api_key"), "sk-a"));
  EXPECT_FALSE(other_key(org_a_, "llm_api_key"));
}

INSTANTIATE_TEST_SUITE_P(Backends, OrgSecretsTest, ::testing::ValuesIn(testing::backends()),
                         testing::BackendName());

}  // namespace
}  // namespace atrium::tasks
