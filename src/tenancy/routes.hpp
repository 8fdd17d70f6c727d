// The organization, member, invitation and secret routes (API.md, Organizations, Members,
// secrets):
//   GET    /api/orgs                        authenticated  → the caller's organizations (all for
//                                                            the global super admin; an API
//                                                            key's own)
//   POST   /api/orgs                        authenticated  {name, slug?} → 201 org
//   GET    /api/orgs/{id}                   org:read       `current` allowed → org
//   PUT    /api/orgs/{id}                   org:manage     {name?, slug?} → org
//   DELETE /api/orgs/{id}                   org:manage     → 204
//   PUT    /api/orgs/{id}/secrets/{name}    org:manage     {value} → 204
//   GET    /api/users                       users:read     → members, by email
//   POST   /api/users                       users:manage   {email, role} → 201 {member} or
//                                                          {invitation}
//   GET    /api/users/{id}                  users:read     → member
//   PATCH  /api/users/{id}                  users:manage   {roles} → member
//   DELETE /api/users/{id}                  users:manage   → 204
//   POST   /api/invitations/accept          public (or the invited user's bearer)
//                                           {token, name?, password?} → 200 bundle
#pragma once

#include "http/router.hpp"
#include "tenancy/members.hpp"
#include "tenancy/organizations.hpp"

namespace atrium::tenancy {

inline constexpr std::size_t kMaxOrgName = 200;
inline constexpr std::size_t kMaxSecretBytes = 8 * 1024;

// Lower-case letters, digits and '_', starting with a letter, at most 64 characters.
bool valid_secret_name(std::string_view name);

void add_routes(http::Router& router, OrganizationService& organizations, MemberService& members);

}  // namespace atrium::tenancy
