#include "access/seed.hpp"

#include <set>

#include "access/permissions.hpp"
#include "platform/clock.hpp"
#include "platform/ids.hpp"

namespace atrium::access {

Result<SeedReport> seed(db::Database& db) {
  const std::string now = format_time(std::chrono::system_clock::now());
  return db.transact({}, [&](db::Tx& tx) -> Result<SeedReport> {
    SeedReport report;
    for (const auto& p : catalog()) {
      auto existing = tx.query_one("SELECT description FROM permissions WHERE name = $1", {p.name});
      if (!existing) return fail(existing.error());
      if (!*existing) {
        auto r = tx.execute("INSERT INTO permissions (id, name, description) VALUES ($1, $2, $3)",
                            {new_id(), p.name, p.description});
        if (!r) return fail(r.error());
        ++report.permissions_added;
      } else if ((*existing)->text(0) != p.description) {
        auto r = tx.execute("UPDATE permissions SET description = $1 WHERE name = $2",
                            {p.description, p.name});
        if (!r) return fail(r.error());
      }
    }

    for (const auto& role : system_roles()) {
      auto found = tx.query_one("SELECT id FROM roles WHERE organization_id IS NULL AND name = $1",
                                {role.name});
      if (!found) return fail(found.error());
      std::string role_id;
      if (*found) {
        role_id = (*found)->text(0);
        auto r = tx.execute("UPDATE roles SET description = $1 WHERE id = $2 AND description <> $1",
                            {role.description, role_id});
        if (!r) return fail(r.error());
      } else {
        role_id = new_id();
        auto r = tx.execute(
            "INSERT INTO roles (id, organization_id, name, description, created_at, updated_at)"
            " VALUES ($1, NULL, $2, $3, $4, $4)",
            {role_id, role.name, role.description, now});
        if (!r) return fail(r.error());
        ++report.roles_added;
      }

      auto current = tx.query(
          "SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id"
          " WHERE rp.role_id = $1",
          {role_id});
      if (!current) return fail(current.error());
      std::set<std::string> have;
      for (const auto& row : *current) have.insert(row.text(0));
      std::set<std::string> want(role.permissions.begin(), role.permissions.end());

      for (const auto& name : want) {
        if (have.count(name)) continue;
        auto r = tx.execute(
            "INSERT INTO role_permissions (role_id, permission_id)"
            " SELECT $1, id FROM permissions WHERE name = $2",
            {role_id, name});
        if (!r) return fail(r.error());
        ++report.grants_changed;
      }
      for (const auto& name : have) {
        if (want.count(name)) continue;
        auto r = tx.execute(
            "DELETE FROM role_permissions WHERE role_id = $1"
            " AND permission_id = (SELECT id FROM permissions WHERE name = $2)",
            {role_id, name});
        if (!r) return fail(r.error());
        ++report.grants_changed;
      }
    }
    return report;
  });
}

}  // namespace atrium::access
