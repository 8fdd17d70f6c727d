#include "tenancy/organizations.hpp"

#include "access/permissions.hpp"
#include "audit/audit.hpp"
#include "platform/ids.hpp"
#include "platform/secret_box.hpp"

namespace atrium::tenancy {
namespace {

constexpr std::size_t kMaxSlug = 48;

Error no_org() { return Error::not_found("no such organization"); }

db::TxOptions scope(const std::optional<std::string>& org, bool read_only = false) {
  return {.tenant = org, .read_only = read_only};
}

// A global super admin's read across organizations (API.md): audited by the driver's log and by
// the service's audit entry.
db::TxOptions across_tenants(const Principal& caller, std::string purpose) {
  return {.user = caller.user_id, .read_only = true, .cross_tenant_read = std::move(purpose)};
}

// The caller acting in organization `org` (its own, or one it crossed into).
Principal acting_in(const Principal& caller, const std::string& org) {
  Principal p = caller;
  p.org_id = org;
  return p;
}

}  // namespace

bool valid_slug(std::string_view slug) {
  if (slug.empty() || slug.size() > kMaxSlug || slug.front() == '-' || slug.back() == '-')
    return false;
  char previous = 0;
  for (char c : slug) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (c == '-' && previous == '-')) return false;
    previous = c;
  }
  return true;
}

bool crosses_tenants(const Principal& principal) {
  return principal.kind == Principal::Kind::kUser && access::allows(principal.permissions, "*");
}

std::optional<std::string> OrganizationService::own(const Principal& caller, std::string_view id) {
  if (!caller.org_id) return std::nullopt;
  if (id == "current" || id == *caller.org_id) return caller.org_id;
  return std::nullopt;
}

OrganizationService::OrganizationService(db::Database& db, identity::Revocations& revocations,
                                         identity::MeCache& me_cache, const Clock& clock,
                                         std::string data_key)
    : db_(db),
      revocations_(revocations),
      me_cache_(me_cache),
      clock_(clock),
      data_key_(std::move(data_key)) {}

Result<OrganizationPage> OrganizationService::list(const Principal& caller,
                                                   const http::PageQuery& page,
                                                   const http::Request& req) {
  if (caller.kind == Principal::Kind::kApiKey) {
    // An API key is a principal of its organization (API.md): that one only.
    auto org = db_.transact(scope(caller.org_id, true),
                            [&](db::Tx& tx) { return current_organization(tx, caller); });
    if (!org) return fail(org.error());
    OrganizationPage out;
    if (*org && !page.after) out.items.push_back(**org);
    return out;
  }
  if (!crosses_tenants(caller)) {
    // The user's own memberships, in every organization: readable with the user in scope.
    return db_.transact(
        {.tenant = caller.org_id, .user = caller.user_id, .read_only = true},
        [&](db::Tx& tx) { return organizations_of_user(tx, caller.user_id, page); });
  }
  // The global super admin: every organization (API.md), a cross-tenant read, audited.
  auto all = db_.transact(across_tenants(caller, "GET /api/orgs"),
                          [&](db::Tx& tx) { return all_organizations(tx, caller.user_id, page); });
  if (!all) return fail(all.error());
  auto audited = db_.transact(scope(std::nullopt), [&](db::Tx& tx) {
    return audit::record(tx, audit::Entry::by(caller, "org.cross_tenant_read")
                                 .in(std::nullopt)
                                 .from(req)
                                 .with({{"route", "GET /api/orgs"}, {"count", all->items.size()}}));
  });
  if (!audited) return fail(audited.error());
  return all;
}

Result<Organization> OrganizationService::create(const Principal& caller, const std::string& name,
                                                 const std::optional<std::string>& slug,
                                                 const http::Request& req) {
  if (caller.kind == Principal::Kind::kApiKey)
    return fail(Error{Code::kPermissionDenied, "API keys cannot create organizations", {}, 0});
  const std::string id = new_id();
  const TimePoint now = clock_.now();
  auto created = db_.transact(scope(id), [&](db::Tx& tx) -> Result<Organization> {
    auto org = slug ? insert_organization(tx, id, name, *slug, now)
                    : create_organization(tx, id, name, now);
    if (!org) {
      if (org.error().code == Code::kConflict)
        return fail(Error::conflict("an organization with this slug already exists"));
      return fail(org.error());
    }
    if (auto ok = add_member(tx, id, caller.user_id, access::kTenantAdmin, now); !ok)
      return fail(ok.error());
    auto entry = audit::Entry::by(caller, "org.create")
                     .in(id)
                     .on("organization", id)
                     .from(req)
                     .with({{"name", org->name}, {"slug", org->slug}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return org;
  });
  if (created) me_cache_.forget_user(caller.user_id);  // a new membership
  return created;
}

Result<Organization> OrganizationService::get(const Principal& caller, std::string_view id,
                                              const http::Request& req) {
  if (auto mine = own(caller, id)) {
    auto org = db_.transact(scope(mine, true), [&](db::Tx& tx) {
      return current_organization(tx, acting_in(caller, *mine));
    });
    if (!org) return fail(org.error());
    if (!*org) return fail(no_org());
    return std::move(**org);
  }
  if (!crosses_tenants(caller) || !is_uuid(id)) return fail(no_org());
  // The global super admin reading another organization (API.md): a cross-tenant read, audited
  // in the organization read, so its own administrators see who looked.
  auto org = db_.transact(across_tenants(caller, "GET /api/orgs/{id}"),
                          [&](db::Tx& tx) { return any_organization(tx, caller.user_id, id); });
  if (!org) return fail(org.error());
  if (!*org) return fail(no_org());
  auto audited = db_.transact(scope((*org)->id), [&](db::Tx& tx) {
    return audit::record(tx, audit::Entry::by(caller, "org.cross_tenant_read")
                                 .in((*org)->id)
                                 .on("organization", (*org)->id)
                                 .from(req)
                                 .with({{"route", "GET /api/orgs/{id}"}}));
  });
  if (!audited) return fail(audited.error());
  return std::move(**org);
}

Result<Organization> OrganizationService::update(const Principal& caller, std::string_view id,
                                                 const std::optional<std::string>& name,
                                                 const std::optional<std::string>& slug,
                                                 const http::Request& req) {
  auto mine = own(caller, id);
  if (!mine) return fail(no_org());
  const Principal self = acting_in(caller, *mine);
  auto updated = db_.transact(scope(mine), [&](db::Tx& tx) -> Result<Organization> {
    auto found = current_organization(tx, self);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_org());
    Organization org = std::move(**found);
    nlohmann::json changed = nlohmann::json::object();
    if (name && *name != org.name) {
      changed["name"] = {{"from", org.name}, {"to", *name}};
      org.name = *name;
    }
    if (slug && *slug != org.slug) {
      changed["slug"] = {{"from", org.slug}, {"to", *slug}};
      org.slug = *slug;
    }
    if (changed.empty()) return org;
    const TimePoint now = clock_.now();
    auto done = update_organization(tx, self, org.name, org.slug, now);
    if (!done) {
      if (done.error().code == Code::kConflict)
        return fail(Error::conflict("an organization with this slug already exists"));
      return fail(done.error());
    }
    if (!*done) return fail(no_org());
    org.updated_at = format_time(now);
    auto entry =
        audit::Entry::by(self, "org.update").on("organization", org.id).from(req).with(changed);
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return org;
  });
  if (updated) me_cache_.forget_organization(*mine);
  return updated;
}

Result<void> OrganizationService::remove(const Principal& caller, std::string_view id,
                                         const http::Request& req) {
  auto mine = own(caller, id);
  if (!mine) return fail(no_org());
  const Principal self = acting_in(caller, *mine);
  const identity::Revocation revocation = revocations_.organization(*mine);
  auto r = db_.transact(scope(mine), [&](db::Tx& tx) -> Result<void> {
    auto found = current_organization(tx, self);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_org());
    auto done = delete_organization(tx, self);
    if (!done) return fail(done.error());
    if (!*done) return fail(no_org());
    if (auto ok = revocations_.stage(tx, revocation); !ok) return ok;
    return audit::record(tx, audit::Entry::by(self, "org.delete")
                                 .on("organization", *mine)
                                 .from(req)
                                 .with({{"name", (*found)->name}, {"slug", (*found)->slug}}));
  });
  if (!r) return r;
  revocations_.announce(revocation);
  return {};
}

Result<void> OrganizationService::put_secret(const Principal& caller, std::string_view id,
                                             std::string_view name, std::string_view value,
                                             const http::Request& req) {
  auto mine = own(caller, id);
  if (!mine) return fail(no_org());
  const Principal self = acting_in(caller, *mine);
  const Sealed sealed = seal_secret(data_key_, org_secret_context(*mine, name), value);
  return db_.transact(scope(mine), [&](db::Tx& tx) -> Result<void> {
    auto found = current_organization(tx, self);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_org());
    auto created =
        tenancy::put_secret(tx, self, name, sealed.ciphertext, sealed.nonce, clock_.now());
    if (!created) return fail(created.error());
    // The name only: the value never reaches a log or the audit trail.
    return audit::record(tx, audit::Entry::by(self, "secret.update")
                                 .on("secret", std::string(name))
                                 .from(req)
                                 .with({{"name", name}, {"created", *created}}));
  });
}

}  // namespace atrium::tenancy
