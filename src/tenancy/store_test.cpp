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

  // The store runs as the application does: acting for an organization, or for a signed-in user
  // (their memberships everywhere), under row-level security on PostgreSQL.
  db::Database& app() { return *t_->app; }
  template <class F>
  auto in(const std::string& org, F&& body) {
    return app().transact({.tenant = org}, std::forward<F>(body));
  }
  template <class F>
  auto as(const std::string& user, F&& body) {
    return app().transact({.user = user}, std::forward<F>(body));
  }
  // A new organization, created as sign-up does: acting for its new id.
  Result<Organization> create(const std::string& name) {
    const std::string id = new_id();
    return in(id, [&](db::Tx& t) { return create_organization(t, id, name, now_); });
  }

  TimePoint now_ = std::chrono::system_clock::now();
  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(TenancyStore, SlugsStayUniqueAndOrganizationsAreFound) {
  auto a = create("Acme");
  auto b = create("ACME!");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->slug, "acme");
  EXPECT_TRUE(b->slug.starts_with("acme-"));
  EXPECT_EQ(b->slug.size(), std::string("acme-").size() + 6);
  auto found = in(a->id, [&](db::Tx& t) { return find_organization(t, a->id); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->name, "Acme");
  auto missing = in(a->id, [&](db::Tx& t) { return find_organization(t, new_id()); });
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_P(TenancyStore, EnrichmentFlattensOrgAndGlobalRoles) {
  const auto alice = add_user("alice@example.com");
  auto org = create("Acme");
  auto other = create("Other");
  ASSERT_TRUE(org && other);
  ASSERT_TRUE(in(org->id, [&](db::Tx& t) { return add_member(t, org->id, alice, "USER", now_); }));
  ASSERT_TRUE(
      in(org->id, [&](db::Tx& t) { return add_member(t, org->id, alice, "TENANT_ADMIN", now_); }));

  auto perms = in(org->id, [&](db::Tx& t) { return permissions_of(t, alice, org->id); });
  ASSERT_TRUE(perms);
  // TENANT_ADMIN ∪ USER, de-duplicated and sorted.
  EXPECT_EQ(*perms, (std::vector<std::string>{"agents:create", "agents:manage", "agents:read",
                                              "apikeys:manage", "audit:read", "org:read",
                                              "roles:manage", "tasks:cancel", "tasks:create",
                                              "tasks:read", "users:manage", "users:read"}));
  auto elsewhere = in(other->id, [&](db::Tx& t) { return permissions_of(t, alice, other->id); });
  ASSERT_TRUE(elsewhere);
  EXPECT_TRUE(elsewhere->empty());
  EXPECT_TRUE(*in(org->id, [&](db::Tx& t) { return is_member(t, alice, org->id); }));
  EXPECT_FALSE(*in(other->id, [&](db::Tx& t) { return is_member(t, alice, other->id); }));

  // A global role (written by the owner, as create-superadmin does) applies in every
  // organization and without one.
  auto r = db().transact({}, [&](db::Tx& t) {
    return t.execute(
        "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
        " SELECT $1, $2, NULL, id, $3 FROM roles WHERE name = 'SUPER_ADMIN' AND organization_id IS "
        "NULL",
        {new_id(), alice, format_time(now_)});
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*as(alice, [&](db::Tx& t) { return permissions_of(t, alice, std::nullopt); }),
            (std::vector<std::string>{"*"}));
  EXPECT_EQ(*in(other->id, [&](db::Tx& t) { return permissions_of(t, alice, other->id); }),
            (std::vector<std::string>{"*"}));
  EXPECT_EQ(*as(alice, [&](db::Tx& t) { return global_roles_of_user(t, alice); }),
            (std::vector<std::string>{"SUPER_ADMIN"}));
}

TEST_P(TenancyStore, MembershipsListEachOrganizationOnceEarliestFirst) {
  const auto bob = add_user("bob@example.com");
  auto first = create("First");
  auto second = create("Second");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(
      in(first->id, [&](db::Tx& t) { return add_member(t, first->id, bob, "USER", now_); }));
  ASSERT_TRUE(in(second->id, [&](db::Tx& t) {
    return add_member(t, second->id, bob, "USER", now_ + std::chrono::seconds(1));
  }));
  ASSERT_TRUE(in(first->id, [&](db::Tx& t) {
    return add_member(t, first->id, bob, "TENANT_ADMIN", now_ + std::chrono::seconds(2));
  }));
  auto ms = as(bob, [&](db::Tx& t) { return memberships_of_user(t, bob); });
  ASSERT_TRUE(ms);
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[0].organization.id, first->id);
  EXPECT_EQ((*ms)[0].roles, (std::vector<std::string>{"TENANT_ADMIN", "USER"}));
  EXPECT_EQ((*ms)[0].joined_at, format_time(now_));
  EXPECT_EQ((*ms)[1].organization.slug, "second");

  auto dup = in(first->id, [&](db::Tx& t) { return add_member(t, first->id, bob, "USER", now_); });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Code::kConflict);
  auto unknown =
      in(first->id, [&](db::Tx& t) { return add_member(t, first->id, bob, "NOPE", now_); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
}

TEST_P(TenancyStore, CurrentOrganizationIsThePrincipals) {
  auto org = create("Acme");
  ASSERT_TRUE(org);
  Principal p;
  p.org_id = org->id;
  auto cur = in(org->id, [&](db::Tx& t) { return current_organization(t, p); });
  ASSERT_TRUE(cur && *cur);
  EXPECT_EQ((*cur)->id, org->id);
  p.org_id.reset();
  auto none = app().transact({}, [&](db::Tx& t) { return current_organization(t, p); });
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

INSTANTIATE_TEST_SUITE_P(Backends, TenancyStore, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::tenancy
