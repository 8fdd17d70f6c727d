#include "tenancy/store.hpp"

#include <gtest/gtest.h>

#include "access/seed.hpp"
#include "db/migrations.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"

namespace atrium::tenancy {
namespace {

using atrium::testing::Backend;

TEST(Slugify, MakesUrlFriendlySlugs) {
  EXPECT_EQ(slugify("Acme Corp"), "acme-corp");
  EXPECT_EQ(slugify("  --Hello,   World!! "), "hello-world");
  EXPECT_EQ(slugify("Café Zürich"), "caf-z-rich");
  EXPECT_EQ(slugify("!!!"), "org");
  EXPECT_EQ(slugify(std::string(100, 'a')).size(), 48u);
}

class TenancyStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create();
    ASSERT_TRUE(db::migrate(db()));
    ASSERT_TRUE(access::seed(db()));
  }
  db::Database& db() { return *t_->db; }

  std::string add_user(const std::string& email) {
    const std::string id = new_id();
    auto r = db().transact({}, [&](db::Tx& tx) {
      return tx.execute(
          "INSERT INTO users (id, email, name, created_at, updated_at) VALUES ($1, $2, '', $3, $3)",
          {id, email, format_time(now_)});
    });
    EXPECT_TRUE(r);
    return id;
  }

  template <class F>
  auto tx(F&& body) {
    return db().transact({}, std::forward<F>(body));
  }

  TimePoint now_ = std::chrono::system_clock::now();
  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(TenancyStore, SlugsStayUniqueAndOrganizationsAreFound) {
  auto a = tx([&](db::Tx& t) { return create_organization(t, new_id(), "Acme", now_); });
  auto b = tx([&](db::Tx& t) { return create_organization(t, new_id(), "ACME!", now_); });
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->slug, "acme");
  EXPECT_TRUE(b->slug.starts_with("acme-"));
  EXPECT_EQ(b->slug.size(), std::string("acme-").size() + 6);
  auto found = tx([&](db::Tx& t) { return find_organization(t, a->id); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->name, "Acme");
  auto missing = tx([&](db::Tx& t) { return find_organization(t, new_id()); });
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(TenancyStore, EnrichmentFlattensOrgAndGlobalRoles) {
  const auto alice = add_user("alice@example.com");
  auto org = tx([&](db::Tx& t) { return create_organization(t, new_id(), "Acme", now_); });
  auto other = tx([&](db::Tx& t) { return create_organization(t, new_id(), "Other", now_); });
  ASSERT_TRUE(org && other);
  ASSERT_TRUE(tx([&](db::Tx& t) { return add_member(t, org->id, alice, "USER", now_); }));
  ASSERT_TRUE(tx([&](db::Tx& t) { return add_member(t, org->id, alice, "TENANT_ADMIN", now_); }));

  auto perms = tx([&](db::Tx& t) { return permissions_of(t, alice, org->id); });
  ASSERT_TRUE(perms);
  // TENANT_ADMIN ∪ USER, de-duplicated and sorted.
  EXPECT_EQ(*perms, (std::vector<std::string>{"agents:create", "agents:manage", "agents:read",
                                              "apikeys:manage", "audit:read", "org:read",
                                              "roles:manage", "tasks:cancel", "tasks:create",
                                              "tasks:read", "users:manage", "users:read"}));
  auto elsewhere = tx([&](db::Tx& t) { return permissions_of(t, alice, other->id); });
  ASSERT_TRUE(elsewhere);
  EXPECT_TRUE(elsewhere->empty());
  EXPECT_TRUE(*tx([&](db::Tx& t) { return is_member(t, alice, org->id); }));
  EXPECT_FALSE(*tx([&](db::Tx& t) { return is_member(t, alice, other->id); }));

  // A global role applies in every organization and without one.
  auto r = tx([&](db::Tx& t) {
    return t.execute(
        "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
        " SELECT $1, $2, NULL, id, $3 FROM roles WHERE name = 'SUPER_ADMIN' AND organization_id IS "
        "NULL",
        {new_id(), alice, format_time(now_)});
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*tx([&](db::Tx& t) { return permissions_of(t, alice, std::nullopt); }),
            (std::vector<std::string>{"*"}));
  EXPECT_EQ(*tx([&](db::Tx& t) { return permissions_of(t, alice, other->id); }),
            (std::vector<std::string>{"*"}));
  EXPECT_EQ(*tx([&](db::Tx& t) { return global_roles_of_user(t, alice); }),
            (std::vector<std::string>{"SUPER_ADMIN"}));
}

TEST_P(TenancyStore, MembershipsListEachOrganizationOnceEarliestFirst) {
  const auto bob = add_user("bob@example.com");
  auto first = tx([&](db::Tx& t) { return create_organization(t, new_id(), "First", now_); });
  auto second = tx([&](db::Tx& t) { return create_organization(t, new_id(), "Second", now_); });
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(tx([&](db::Tx& t) { return add_member(t, first->id, bob, "USER", now_); }));
  ASSERT_TRUE(tx([&](db::Tx& t) {
    return add_member(t, second->id, bob, "USER", now_ + std::chrono::seconds(1));
  }));
  ASSERT_TRUE(tx([&](db::Tx& t) {
    return add_member(t, first->id, bob, "TENANT_ADMIN", now_ + std::chrono::seconds(2));
  }));
  auto ms = tx([&](db::Tx& t) { return memberships_of_user(t, bob); });
  ASSERT_TRUE(ms);
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[0].organization.id, first->id);
  EXPECT_EQ((*ms)[0].roles, (std::vector<std::string>{"TENANT_ADMIN", "USER"}));
  EXPECT_EQ((*ms)[0].joined_at, format_time(now_));
  EXPECT_EQ((*ms)[1].organization.slug, "second");

  auto dup = tx([&](db::Tx& t) { return add_member(t, first->id, bob, "USER", now_); });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Code::kConflict);
  auto unknown = tx([&](db::Tx& t) { return add_member(t, first->id, bob, "NOPE", now_); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
}

TEST_P(TenancyStore, CurrentOrganizationIsThePrincipals) {
  auto org = tx([&](db::Tx& t) { return create_organization(t, new_id(), "Acme", now_); });
  ASSERT_TRUE(org);
  Principal p;
  p.org_id = org->id;
  auto cur = tx([&](db::Tx& t) { return current_organization(t, p); });
  ASSERT_TRUE(cur && *cur);
  EXPECT_EQ((*cur)->id, org->id);
  p.org_id.reset();
  auto none = tx([&](db::Tx& t) { return current_organization(t, p); });
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

INSTANTIATE_TEST_SUITE_P(Backends, TenancyStore, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::tenancy
