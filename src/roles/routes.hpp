// The roles routes (API.md, Roles):
//   GET    /api/permissions   authenticated   → {items: [{name, description}]} (the catalog)
//   GET    /api/roles         users:read      ?limit&cursor → system roles, then the
//                                             organization's own: {id, name, description,
//                                             permissions, system}
//   POST   /api/roles         roles:manage    {name, description?, permissions} → 201 role
//   PATCH  /api/roles/{id}    roles:manage    any of the create fields → role; system → 403
//   DELETE /api/roles/{id}    roles:manage    → 204; in use → 409
#pragma once

#include "http/router.hpp"
#include "roles/service.hpp"

namespace atrium::roles {

inline constexpr std::size_t kMaxRoleName = 64;
inline constexpr std::size_t kMaxRoleDescription = 500;
inline constexpr std::size_t kMaxRolePermissions = 50;

// Letters, digits, spaces, '_', '-' and '.', starting with a letter or digit.
bool valid_role_name(std::string_view name);

void add_routes(http::Router& router, RoleService& service);

}  // namespace atrium::roles
