// The permission catalog and the wildcard rule (DESIGN.md §6).
//
// A held permission grants a required one when it is equal, when it is "*", or when it is
// "resource:*" and the required one is "resource:<action>". Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/principal.hpp"

namespace atrium::access {

bool grants(std::string_view held, std::string_view required);

// True when any held permission grants `required`. No allocation.
bool allows(std::span<const std::string> held, std::string_view required);

// True when every permission in `wanted` is allowed by `held` (nobody grants what they lack).
bool allows_all(std::span<const std::string> held, std::span<const std::string> wanted);

// The request path's form (issue 4: ≤ 50 ns against 50 permissions). A route's permission is
// resolved to its catalog index once, when the routes are built; a credential's permissions are
// compiled to a bit set once, when it verifies (Principal::catalog_grants). The check is then
// one AND; a permission outside the catalog (custom) or an uncompiled principal takes the scan of
// allows(). The answers are those of allows() in every case.
inline constexpr int kNotInCatalog = -1;

// The index of `name` in catalog(), or kNotInCatalog.
int catalog_index(std::string_view name);

// Bit i set when `held` grants catalog()[i].
std::uint64_t compile_grants(std::span<const std::string> held);

// True when `principal` holds `required`, whose catalog index is `required_index` (or
// kNotInCatalog). No allocation.
bool allows(const Principal& principal, std::string_view required, int required_index);

struct PermissionInfo {
  std::string_view name;
  std::string_view description;
};

// Every grantable permission, wildcards included, in a stable order.
std::span<const PermissionInfo> catalog();

bool is_known_permission(std::string_view name);

struct SystemRole {
  std::string_view name;
  std::string_view description;
  std::vector<std::string_view> permissions;
};

// SUPER_ADMIN (assigned globally, organization NULL), TENANT_ADMIN and USER.
std::span<const SystemRole> system_roles();

inline constexpr std::string_view kSuperAdmin = "SUPER_ADMIN";
inline constexpr std::string_view kTenantAdmin = "TENANT_ADMIN";
inline constexpr std::string_view kUser = "USER";

}  // namespace atrium::access
