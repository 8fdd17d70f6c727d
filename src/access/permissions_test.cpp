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
  EXPECT_TRUE(authorize(http::Access::anyone(), std::nullopt));
  EXPECT_EQ(authorize(http::Access::authenticated(), std::nullopt).error().code,
            Code::kUnauthenticated);
  EXPECT_TRUE(authorize(http::Access::authenticated(), p));
  EXPECT_EQ(authorize(http::Access::permission("agents:read"), std::nullopt).error().code,
            Code::kUnauthenticated);
  EXPECT_TRUE(authorize(http::Access::permission("agents:read"), p));
  auto denied = authorize(http::Access::permission("agents:manage"), p);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);
  EXPECT_NE(denied.error().detail.find("agents:manage"), std::string::npos);
}

}  // namespace
}  // namespace atrium::access
