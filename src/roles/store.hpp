// Roles in the database (API.md, Roles): the system roles (organization NULL, shared, read-only)
// and each organization's custom roles. Every function takes the Principal first and sees the
// system roles plus its organization's own: another tenant's role is simply not found.
// Functions run inside the caller's transaction; errors are the database's (a duplicate name is
// Code::kConflict).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/pagination.hpp"
#include "platform/principal.hpp"

namespace atrium::roles {

struct Role {
  std::string id;
  std::optional<std::string> organization_id;  // nullopt: a system role
  std::string name;
  std::string description;
  std::vector<std::string> permissions;  // sorted
  std::string created_at;
  std::string updated_at;

  bool system() const { return !organization_id; }
};

// {id, name, description, permissions, system}
nlohmann::json to_json(const Role& role);

struct RolePage {
  std::vector<Role> items;
  std::optional<std::string> next_key;
};

namespace store {

// The system roles, then the principal's organization's own (none without an organization), in
// creation order (ids are time-ordered). SUPER_ADMIN is listed but global: no organization
// assigns it (find_by_name).
Result<RolePage> list(db::Tx& tx, const Principal& principal, const http::PageQuery& page);
Result<std::optional<Role>> find(db::Tx& tx, const Principal& principal, std::string_view id);
// By name; the organization's own role wins over a system role of the same name (there should be
// none: custom roles may not take a system role's name). SUPER_ADMIN is never found here.
Result<std::optional<Role>> find_by_name(db::Tx& tx, const Principal& principal,
                                         std::string_view name);
// Inserts a custom role of the principal's organization with its permissions.
Result<void> insert(db::Tx& tx, const Principal& principal, const Role& role);
// Holds, until the transaction ends, the right to change the role `id`: a read-modify-write of a
// role takes it before reading (PostgreSQL runs transactions concurrently, so a change decided
// on a stale read would undo another; SQLite's write transactions already run one at a time).
Result<void> lock(db::Tx& tx, std::string_view id);
// Rewrites a custom role's name and description, and its permissions only when
// `with_permissions`; false when there is none.
Result<bool> update(db::Tx& tx, const Principal& principal, const Role& role,
                    bool with_permissions);
// Deletes a custom role; false when there is none.
Result<bool> remove(db::Tx& tx, const Principal& principal, std::string_view id);
// Users holding the role in the principal's organization.
Result<std::vector<std::string>> holders(db::Tx& tx, const Principal& principal,
                                         std::string_view role_id);
// Pending invitations (unaccepted, unexpired at `now`) of the principal's organization naming
// the role.
Result<std::int64_t> pending_invitations(db::Tx& tx, const Principal& principal,
                                         std::string_view role_id, std::string_view now);

}  // namespace store
}  // namespace atrium::roles
