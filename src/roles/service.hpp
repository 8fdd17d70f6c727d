// Roles (API.md, Roles): custom roles of an organization, with the rules that keep them safe.
//
// - System roles are read-only: changing or deleting one is 403 permission_denied.
// - No privilege escalation (DESIGN.md §6): a role may only carry permissions the caller holds,
//   by the wildcard rule; and a caller may only change a role whose current permissions they
//   hold themselves. Otherwise 403 privilege_escalation.
// - "*" is the global super admin's alone and is never granted by a custom role (400); grant
//   "resource:*" instead.
// - Custom role names are unique in the organization and may not take a system role's name
//   (409 conflict). A role held by a member or named by a pending invitation cannot be deleted
//   (409 conflict).
// - Changing a role's permissions revokes the access tokens of its holders in the organization
//   (identity's revocations): they refresh and get the new permissions within 5 s.
// Every change writes its audit entry (role.create, role.update, role.delete) in its transaction.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/message.hpp"
#include "identity/me_cache.hpp"
#include "identity/revocation.hpp"
#include "platform/clock.hpp"
#include "roles/store.hpp"

namespace atrium::roles {

// The fields of a new role, or those to change (absent = unchanged).
struct RoleFields {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> permissions;
};

// Checks a list of permission names a caller wants to grant (to a role, a member or a key):
// unknown names and "*" → 400 with a field error per item (`field` is the list's name); a name
// the caller does not hold → 403 privilege_escalation naming it.
Result<void> check_grantable(const Principal& caller, std::string_view field,
                             const std::vector<std::string>& wanted);

class RoleService {
 public:
  RoleService(db::Database& db, identity::Revocations& revocations, identity::MeCache& me_cache,
              const Clock& clock);

  Result<RolePage> list(const Principal& caller, const http::PageQuery& page);
  Result<Role> get(const Principal& caller, std::string_view id);
  // `fields.name` and `fields.permissions` present and validated for shape.
  Result<Role> create(const Principal& caller, const RoleFields& fields, const http::Request& req);
  Result<Role> update(const Principal& caller, std::string_view id, const RoleFields& fields,
                      const http::Request& req);
  Result<void> remove(const Principal& caller, std::string_view id, const http::Request& req);

 private:
  db::Database& db_;
  identity::Revocations& revocations_;
  identity::MeCache& me_cache_;  // GET /api/me shows role names
  const Clock& clock_;
};

}  // namespace atrium::roles
