// The permission catalog and the wildcard rule (DESIGN.md §6).
//
// A held permission grants a required one when it is equal, when it is "*", or when it is
// "resource:*" and the required one is "resource:<action>". Pure functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::access {

bool grants(std::string_view held, std::string_view required);

// True when any held permission grants `required`. No allocation.
bool allows(std::span<const std::string> held, std::string_view required);

// True when every permission in `wanted` is allowed by `held` (nobody grants what they lack).
bool allows_all(std::span<const std::string> held, std::span<const std::string> wanted);

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
