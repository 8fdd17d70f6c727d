#include "roles/service.hpp"

#include <algorithm>

#include "access/permissions.hpp"
#include "audit/audit.hpp"
#include "platform/ids.hpp"
#include "tenancy/store.hpp"

namespace atrium::roles {
namespace {

// Beyond this many holders a role change cuts off the whole organization's tokens (one row)
// rather than writing a revocation per member; everyone refreshes once.
constexpr std::size_t kMaxMemberRevocations = 100;

Error no_role() { return Error::not_found("no such role"); }
Error read_only() { return Error{Code::kPermissionDenied, "system roles are read-only", {}, 0}; }
Error escalation(const std::string& permission) {
  return Error{Code::kPrivilegeEscalation,
               "cannot change a role carrying a permission you do not hold: " + permission,
               {},
               0};
}

bool is_system_name(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  for (const auto& r : access::system_roles())
    if (lower(r.name) == lower(name)) return true;
  return false;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

db::TxOptions scope(const Principal& caller, bool read_only = false) {
  return {.tenant = caller.org_id, .read_only = read_only};
}

}  // namespace

Result<void> check_grantable(const Principal& caller, std::string_view field,
                             const std::vector<std::string>& wanted) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const std::string item = std::string(field) + "[" + std::to_string(i) + "]";
    if (wanted[i] == "*")
      errors.push_back({item, "\"*\" belongs to the global super admin; grant resource:* instead"});
    else if (!access::is_known_permission(wanted[i]))
      errors.push_back({item, "is not a known permission"});
  }
  if (!errors.empty())
    return fail(Error::invalid("invalid permission: " + errors.front().field, errors));
  for (const auto& p : wanted) {
    if (!access::allows(caller.permissions, p))
      return fail(Error{
          Code::kPrivilegeEscalation, "cannot grant a permission you do not hold: " + p, {}, 0});
  }
  return {};
}

RoleService::RoleService(db::Database& db, identity::Revocations& revocations,
                         identity::MeCache& me_cache, const Clock& clock)
    : db_(db), revocations_(revocations), me_cache_(me_cache), clock_(clock) {}

Result<RolePage> RoleService::list(const Principal& caller, const http::PageQuery& page) {
  return db_.transact(scope(caller, true),
                      [&](db::Tx& tx) { return store::list(tx, caller, page); });
}

Result<Role> RoleService::get(const Principal& caller, std::string_view id) {
  auto found =
      db_.transact(scope(caller, true), [&](db::Tx& tx) { return store::find(tx, caller, id); });
  if (!found) return fail(found.error());
  if (!*found) return fail(no_role());
  return std::move(**found);
}

Result<Role> RoleService::create(const Principal& caller, const RoleFields& f,
                                 const http::Request& req) {
  if (!caller.org_id)
    return fail(Error::invalid("select an organization first (POST /api/auth/switch)"));
  if (auto ok = check_grantable(caller, "permissions", *f.permissions); !ok)
    return fail(ok.error());
  if (is_system_name(*f.name)) return fail(Error::conflict("a system role already has this name"));
  const std::string now = format_time(clock_.now());
  Role role{
      new_id(), caller.org_id, *f.name, f.description.value_or(""), sorted(*f.permissions), now,
      now};
  auto r = db_.transact(scope(caller), [&](db::Tx& tx) -> Result<void> {
    if (auto ok = store::insert(tx, caller, role); !ok) {
      if (ok.error().code == Code::kConflict)
        return fail(Error::conflict("a role with this name already exists"));
      return ok;
    }
    return audit::record(tx, audit::Entry::by(caller, "role.create")
                                 .on("role", role.id)
                                 .from(req)
                                 .with({{"name", role.name}, {"permissions", role.permissions}}));
  });
  if (!r) return fail(r.error());
  return role;
}

Result<Role> RoleService::update(const Principal& caller, std::string_view id, const RoleFields& f,
                                 const http::Request& req) {
  std::vector<identity::Revocation> revoked;
  std::vector<std::string> renamed_for;  // holders whose view shows the old name
  auto result = db_.transact(scope(caller), [&](db::Tx& tx) -> Result<Role> {
    revoked.clear();
    renamed_for.clear();
    if (auto locked = store::lock(tx, id); !locked) return fail(locked.error());
    auto found = store::find(tx, caller, id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_role());
    Role role = std::move(**found);
    if (role.system()) return fail(read_only());
    for (const auto& p : role.permissions)
      if (!access::allows(caller.permissions, p)) return fail(escalation(p));
    if (f.permissions) {
      if (auto ok = check_grantable(caller, "permissions", *f.permissions); !ok)
        return fail(ok.error());
    }
    if (f.name && *f.name != role.name && is_system_name(*f.name))
      return fail(Error::conflict("a system role already has this name"));

    nlohmann::json changed = nlohmann::json::object();
    if (f.name && *f.name != role.name) {
      changed["name"] = {{"from", role.name}, {"to", *f.name}};
      role.name = *f.name;
    }
    if (f.description && *f.description != role.description) {
      changed["description"] = true;
      role.description = *f.description;
    }
    const bool permissions_changed = f.permissions && sorted(*f.permissions) != role.permissions;
    if (permissions_changed) {
      changed["permissions"] = {{"from", role.permissions}, {"to", sorted(*f.permissions)}};
      role.permissions = sorted(*f.permissions);
    }
    if (changed.empty()) return role;
    role.updated_at = format_time(clock_.now());
    auto done = store::update(tx, caller, role, permissions_changed);
    if (!done) {
      if (done.error().code == Code::kConflict)
        return fail(Error::conflict("a role with this name already exists"));
      return fail(done.error());
    }
    if (!*done) return fail(no_role());

    auto users = store::holders(tx, caller, role.id);
    if (!users) return fail(users.error());
    if (changed.contains("name")) renamed_for = *users;
    if (permissions_changed) {
      if (users->size() > kMaxMemberRevocations) {
        revoked.push_back(revocations_.organization(*caller.org_id));
      } else {
        for (const auto& u : *users) revoked.push_back(revocations_.member(u, *caller.org_id));
      }
      for (const auto& r : revoked)
        if (auto ok = revocations_.stage(tx, r); !ok) return fail(ok.error());
    }
    auto audited = audit::record(
        tx, audit::Entry::by(caller, "role.update").on("role", role.id).from(req).with(changed));
    if (!audited) return fail(audited.error());
    return role;
  });
  if (!result) return fail(result.error());
  for (const auto& r : revoked) revocations_.announce(r);
  for (const auto& u : renamed_for) me_cache_.forget_user(u);
  return result;
}

Result<void> RoleService::remove(const Principal& caller, std::string_view id,
                                 const http::Request& req) {
  return db_.transact(scope(caller), [&](db::Tx& tx) -> Result<void> {
    // The holder and invitation checks below stay true until the role is gone: a grant or an
    // invitation naming it, in flight meanwhile, takes the same lock (MemberService) and then
    // finds the role deleted, rather than being cascade-deleted with it after it was answered.
    if (auto ok = tenancy::lock_memberships(tx, caller); !ok) return fail(ok.error());
    auto found = store::find(tx, caller, id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_role());
    const Role& role = **found;
    if (role.system()) return fail(read_only());
    auto users = store::holders(tx, caller, role.id);
    if (!users) return fail(users.error());
    if (!users->empty())
      return fail(Error::conflict("the role is held by " + std::to_string(users->size()) +
                                  " member(s); change their roles first"));
    auto pending = store::pending_invitations(tx, caller, role.id, format_time(clock_.now()));
    if (!pending) return fail(pending.error());
    if (*pending > 0) return fail(Error::conflict("the role is named by a pending invitation"));
    auto done = store::remove(tx, caller, role.id);
    if (!done) return fail(done.error());
    if (!*done) return fail(no_role());
    return audit::record(tx, audit::Entry::by(caller, "role.delete")
                                 .on("role", role.id)
                                 .from(req)
                                 .with({{"name", role.name}, {"permissions", role.permissions}}));
  });
}

}  // namespace atrium::roles
