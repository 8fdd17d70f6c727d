#include "roles/store.hpp"

#include <algorithm>
#include <map>

#include "access/permissions.hpp"
#include "platform/ids.hpp"

namespace atrium::roles {
namespace {

constexpr std::string_view kColumns =
    "id, organization_id, name, description, created_at, updated_at";

Role read(const db::Row& r) {
  return Role{r.text(0), r.optional_text(1), r.text(2), r.text(3), {}, r.text(4), r.text(5)};
}

// "$first, $first+1, …" for `n` parameters.
std::string placeholders(std::size_t first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

// Fills in the permissions of `roles` with one query.
Result<void> load_permissions(db::Tx& tx, std::vector<Role>& roles) {
  if (roles.empty()) return {};
  std::vector<db::Value> params;
  for (const auto& r : roles) params.emplace_back(r.id);
  auto rows = tx.query(
      "SELECT rp.role_id, p.name FROM role_permissions rp"
      " JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id IN (" +
          placeholders(1, params.size()) + ") ORDER BY p.name",
      db::Params(params));
  if (!rows) return fail(rows.error());
  std::map<std::string, std::vector<std::string>> by_role;
  for (const auto& row : *rows) by_role[row.text(0)].push_back(row.text(1));
  for (auto& r : roles) r.permissions = std::move(by_role[r.id]);
  return {};
}

Result<std::optional<Role>> one(db::Tx& tx, Result<std::optional<db::Row>> row) {
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Role>();
  std::vector<Role> roles{read(**row)};
  if (auto ok = load_permissions(tx, roles); !ok) return fail(ok.error());
  return std::optional<Role>(std::move(roles.front()));
}

Result<void> write_permissions(db::Tx& tx, const Role& role) {
  for (const auto& p : role.permissions) {
    auto r = tx.execute(
        "INSERT INTO role_permissions (role_id, permission_id)"
        " SELECT $1, id FROM permissions WHERE name = $2",
        {role.id, p});
    if (!r) return fail(r.error());
    if (*r != 1) return fail(Error::field("permissions", "names an unknown permission: " + p));
  }
  return {};
}

std::string select(std::string_view where) {
  std::string s = "SELECT ";
  s += kColumns;
  s += " FROM roles WHERE ";
  s += where;
  return s;
}

// The system roles and the principal's organization's own ($1: its id, or NULL for a principal
// without one, who sees the system roles only).
constexpr std::string_view kVisible = "(organization_id IS NULL OR organization_id = $1)";

db::Value organization(const Principal& principal) { return db::Value(principal.org_id); }

}  // namespace

nlohmann::json to_json(const Role& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"description", r.description},
          {"permissions", r.permissions},
          {"system", r.system()}};
}

namespace store {

Result<RolePage> list(db::Tx& tx, const Principal& principal, const http::PageQuery& page) {
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  const std::string visible(kVisible);
  auto rows = page.after ? tx.query(select(visible + " AND id > $2 ORDER BY id LIMIT $3"),
                                    {organization(principal), *page.after, limit})
                         : tx.query(select(visible + " ORDER BY id LIMIT $2"),
                                    {organization(principal), limit});
  if (!rows) return fail(rows.error());
  RolePage out;
  for (const auto& row : *rows) {
    if (out.items.size() == page.limit) {
      out.next_key = out.items.back().id;
      break;
    }
    out.items.push_back(read(row));
  }
  if (auto ok = load_permissions(tx, out.items); !ok) return fail(ok.error());
  return out;
}

Result<std::optional<Role>> find(db::Tx& tx, const Principal& principal, std::string_view id) {
  if (!is_uuid(id)) return std::optional<Role>();
  return one(tx, tx.query_one(select(std::string(kVisible) + " AND id = $2"),
                              {organization(principal), id}));
}

Result<std::optional<Role>> find_by_name(db::Tx& tx, const Principal& principal,
                                         std::string_view name) {
  // SUPER_ADMIN is global: no organization assigns it.
  if (!principal.org_id || name == access::kSuperAdmin) return std::optional<Role>();
  // The organization's own first: false (0) sorts before true (1) in both engines.
  return one(tx, tx.query_one(select(std::string(kVisible) +
                                     " AND name = $2 ORDER BY (organization_id IS NULL) LIMIT 1"),
                              {*principal.org_id, name}));
}

Result<void> insert(db::Tx& tx, const Principal& principal, const Role& role) {
  if (!principal.org_id || role.organization_id != principal.org_id)
    return fail(Error::not_found("no such organization"));
  auto r = tx.execute(
      "INSERT INTO roles (id, organization_id, name, description, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6)",
      {role.id, *role.organization_id, role.name, role.description, role.created_at,
       role.updated_at});
  if (!r) return fail(r.error());
  return write_permissions(tx, role);
}

Result<void> lock(db::Tx& tx, std::string_view id) { return tx.lock("roles:" + std::string(id)); }

Result<bool> update(db::Tx& tx, const Principal& principal, const Role& role,
                    bool with_permissions) {
  if (!principal.org_id || !is_uuid(role.id)) return false;
  auto r = tx.execute(
      "UPDATE roles SET name = $1, description = $2, updated_at = $3"
      " WHERE organization_id = $4 AND id = $5",
      {role.name, role.description, role.updated_at, *principal.org_id, role.id});
  if (!r) return fail(r.error());
  if (*r != 1) return false;
  if (!with_permissions) return true;
  auto cleared = tx.execute("DELETE FROM role_permissions WHERE role_id = $1", {role.id});
  if (!cleared) return fail(cleared.error());
  if (auto ok = write_permissions(tx, role); !ok) return fail(ok.error());
  return true;
}

Result<bool> remove(db::Tx& tx, const Principal& principal, std::string_view id) {
  if (!principal.org_id || !is_uuid(id)) return false;
  auto r = tx.execute("DELETE FROM roles WHERE organization_id = $1 AND id = $2",
                      {*principal.org_id, id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<std::vector<std::string>> holders(db::Tx& tx, const Principal& principal,
                                         std::string_view role_id) {
  std::vector<std::string> out;
  if (!principal.org_id || !is_uuid(role_id)) return out;
  auto rows = tx.query(
      "SELECT DISTINCT user_id FROM user_organization_roles"
      " WHERE organization_id = $1 AND role_id = $2",
      {*principal.org_id, role_id});
  if (!rows) return fail(rows.error());
  for (const auto& row : *rows) out.push_back(row.text(0));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::int64_t> pending_invitations(db::Tx& tx, const Principal& principal,
                                         std::string_view role_id, std::string_view now) {
  if (!principal.org_id || !is_uuid(role_id)) return 0;
  auto row = tx.query_one(
      "SELECT COUNT(*) FROM invitations"
      " WHERE organization_id = $1 AND role_id = $2 AND accepted_at IS NULL AND expires_at > $3",
      {*principal.org_id, role_id, now});
  if (!row) return fail(row.error());
  return *row ? (*row)->integer(0) : 0;
}

}  // namespace store
}  // namespace atrium::roles
