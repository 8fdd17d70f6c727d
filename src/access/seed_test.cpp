#include "access/seed.hpp"

#include <gtest/gtest.h>

#include "access/permissions.hpp"
#include "db/migrations.hpp"
#include "support/backends.hpp"

namespace atrium::access {
namespace {

using atrium::testing::Backend;

class Seed : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create();
    ASSERT_TRUE(db::migrate(*t_->db));
  }
  db::Database& db() { return *t_->db; }

  // Every (role, permission) pair of the system roles, as text, sorted.
  std::vector<std::string> snapshot() {
    auto r = db().transact({.read_only = true}, [](db::Tx& tx) {
      return tx.query(
          "SELECT r.id, r.name, p.id, p.name FROM roles r"
          " JOIN role_permissions rp ON rp.role_id = r.id"
          " JOIN permissions p ON p.id = rp.permission_id"
          " WHERE r.organization_id IS NULL ORDER BY r.name, p.name");
    });
    std::vector<std::string> out;
    if (!r) return out;
    for (const auto& row : *r)
      out.push_back(row.text(0) + "|" + row.text(1) + "|" + row.text(2) + "|" + row.text(3));
    return out;
  }

  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(Seed, CreatesCatalogAndRoles) {
  auto r = seed(db());
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->permissions_added, static_cast<int>(catalog().size()));
  EXPECT_EQ(r->roles_added, 3);
  auto rows = snapshot();
  std::size_t expected = 0;
  for (const auto& role : system_roles()) expected += role.permissions.size();
  EXPECT_EQ(rows.size(), expected);
}

TEST_P(Seed, TwiceGivesTheSameRows) {
  ASSERT_TRUE(seed(db()));
  auto first = snapshot();
  auto again = seed(db());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->permissions_added, 0);
  EXPECT_EQ(again->roles_added, 0);
  EXPECT_EQ(again->grants_changed, 0);
  EXPECT_EQ(snapshot(), first);  // same ids, same grants
}

TEST_P(Seed, RepairsDriftedSystemRoles) {
  ASSERT_TRUE(seed(db()));
  auto first = snapshot();
  // Someone granted USER an extra permission and removed one.
  auto drift = db().transact({}, [](db::Tx& tx) -> Result<void> {
    auto a = tx.execute(
        "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, "
        "permissions p"
        " WHERE r.name = 'USER' AND r.organization_id IS NULL AND p.name = 'audit:read'");
    if (!a) return fail(a.error());
    auto b = tx.execute(
        "DELETE FROM role_permissions WHERE role_id = (SELECT id FROM roles WHERE name = 'USER'"
        " AND organization_id IS NULL) AND permission_id = (SELECT id FROM permissions WHERE name "
        "= 'org:read')");
    if (!b) return fail(b.error());
    return {};
  });
  ASSERT_TRUE(drift);
  auto r = seed(db());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->grants_changed, 2);
  EXPECT_EQ(snapshot(), first);
}

INSTANTIATE_TEST_SUITE_P(Backends, Seed, ::testing::ValuesIn(atrium::testing::backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::access
