#include "access/permissions.hpp"

#include <gtest/gtest.h>

#include "access/authorizer.hpp"

namespace atrium::access {
namespace {

TEST(Permissions, ExactAndWildcards) {
  EXPECT_TRUE(grants("agents:read", "agents:read"));
  EXPECT_TRUE(grants("*", "agents:read"));
  EXPECT_TRUE(grants("agents:*", "agents:manage"));
  EXPECT_FALSE(grants("agents:*", "tasks:read"));
  EXPECT_FALSE(grants("agents:*", "agents:"));
  EXPECT_FALSE(grants("agents:*", "agentsx:read"));
  EXPECT_FALSE(grants("agents:read", "agents:manage"));
  EXPECT_FALSE(grants("", "agents:read"));
  EXPECT_FALSE(grants(":*", "x"));
}

TEST(Permissions, AllowsOverAList) {
  std::vector<std::string> held{"org:read", "tasks:*"};
  EXPECT_TRUE(allows(held, "tasks:cancel"));
  EXPECT_TRUE(allows(held, "org:read"));
  EXPECT_FALSE(allows(held, "org:manage"));
  EXPECT_FALSE(allows({}, "org:read"));
  std::vector<std::string> wanted{"tasks:read", "org:read"};
  EXPECT_TRUE(allows_all(held, wanted));
  wanted.push_back("audit:read");
  EXPECT_FALSE(allows_all(held, wanted));
}

TEST(Permissions, CompiledGrantsAnswerAsTheScan) {
  const std::vector<std::vector<std::string>> helds = {
      {},
      {"*"},
      {"agents:*", "org:read"},
      {"tasks:read", "tasks:cancel", "audit:*"},
      {"billing:read", "custom:*", "apikeys:manage"},  // permissions outside the catalog
      {"org:", ":*", "agents", "users:*x"},            // near misses grant nothing extra
  };
  std::vector<std::string> required;
  for (const auto& p : catalog()) required.emplace_back(p.name);
  for (const char* custom : {"billing:read", "custom:thing", "custom:", "agents:", "", "zzz"})
    required.emplace_back(custom);
  for (const auto& held : helds) {
    Principal compiled;
    compiled.permissions = held;
    compiled.catalog_grants = compile_grants(held);
    Principal scanned;
    scanned.permissions = held;
    for (const auto& r : required) {
      const int index = catalog_index(r);
      EXPECT_EQ(allows(compiled, r, index), allows(held, r)) << r;
      EXPECT_EQ(allows(scanned, r, index), allows(held, r)) << r;
    }
  }
  EXPECT_EQ(catalog_index("custom:thing"), kNotInCatalog);
  EXPECT_EQ(catalog()[static_cast<std::size_t>(catalog_index("tasks:read"))].name, "tasks:read");
}

TEST(Permissions, SystemRolesMatchTheDesign) {
  auto roles = system_roles();
  ASSERT_EQ(roles.size(), 3u);
  auto find = [&](std::string_view name) -> const SystemRole& {
    for (const auto& r : roles)
      if (r.name == name) return r;
    throw std::runtime_error("missing role");
  };
  std::vector<std::string> admin(find(kTenantAdmin).permissions.begin(),
                                 find(kTenantAdmin).permissions.end());
  EXPECT_TRUE(allows(admin, "users:manage"));
  EXPECT_TRUE(allows(admin, "apikeys:manage"));
  EXPECT_FALSE(allows(admin, "org:manage"));  // as in the seed
  std::vector<std::string> user(find(kUser).permissions.begin(), find(kUser).permissions.end());
  EXPECT_TRUE(allows(user, "tasks:create"));
  EXPECT_FALSE(allows(user, "agents:create"));
  for (const auto& r : roles)
    for (auto p : r.permissions) EXPECT_TRUE(is_known_permission(p)) << p;
}

TEST(Authorize, DenyByDefault) {
  Principal p;
  p.permissions = {"agents:read"};
  EXPECT_TRUE(authorize(http::Access::anyone(), nullptr));
  EXPECT_EQ(authorize(http::Access::authenticated(), nullptr).error().code, Code::kUnauthenticated);
  EXPECT_TRUE(authorize(http::Access::authenticated(), &p));
  EXPECT_EQ(authorize(http::Access::permission("agents:read"), nullptr).error().code,
            Code::kUnauthenticated);
  EXPECT_TRUE(authorize(http::Access::permission("agents:read"), &p));
  auto denied = authorize(http::Access::permission("agents:manage"), &p);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);
  EXPECT_NE(denied.error().detail.find("agents:manage"), std::string::npos);

  // Resolved once, with compiled grants: the same answers.
  p.catalog_grants = compile_grants(p.permissions);
  const auto read = http::Access::permission("agents:read");
  const auto manage = http::Access::permission("agents:manage");
  EXPECT_TRUE(authorize(read, catalog_index("agents:read"), &p));
  EXPECT_EQ(authorize(manage, catalog_index("agents:manage"), &p).error().code,
            Code::kPermissionDenied);
  EXPECT_EQ(authorize(read, catalog_index("agents:read"), nullptr).error().code,
            Code::kUnauthenticated);
}

}  // namespace
}  // namespace atrium::access
