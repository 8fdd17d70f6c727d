#include "tenancy/members.hpp"

#include <algorithm>

#include "access/permissions.hpp"
#include "audit/audit.hpp"
#include "platform/ids.hpp"
#include "roles/store.hpp"

namespace atrium::tenancy {
namespace {

constexpr std::string_view kInvitationPrefix = "inv_";
constexpr std::size_t kInvitationSecretBytes = 32;

Error no_member() { return Error::not_found("no such member"); }
Error no_invitation() {
  return Error::not_found("no such invitation (it may have been used or have expired)");
}

db::TxOptions scope(const std::optional<std::string>& org, bool read_only = false) {
  return {.tenant = org, .read_only = read_only};
}

// The first of `wanted` the caller does not hold, by the wildcard rule.
std::optional<std::string> missing(const Principal& caller,
                                   const std::vector<std::string>& wanted) {
  for (const auto& p : wanted)
    if (!access::allows(caller.permissions, p)) return p;
  return std::nullopt;
}

Error escalation(std::string_view what, const std::string& permission) {
  return Error{Code::kPrivilegeEscalation, std::string(what) + permission, {}, 0};
}

bool holds(const Member& m, std::string_view role) {
  return std::find(m.roles.begin(), m.roles.end(), role) != m.roles.end();
}

// The caller must hold what the member holds already (DESIGN.md §6, applied to changes).
Result<void> check_member_below(db::Tx& tx, const Principal& caller, const Member& member) {
  auto held = member_permissions(tx, caller, member.user_id);
  if (!held) return fail(held.error());
  if (auto p = missing(caller, *held))
    return fail(escalation("cannot change a member holding a permission you do not hold: ", *p));
  return {};
}

// 409 when `member` is the organization's last TENANT_ADMIN.
Result<void> check_not_last_admin(db::Tx& tx, const Principal& caller, const Member& member) {
  if (!holds(member, access::kTenantAdmin)) return {};
  auto admins = count_system_role_holders(tx, caller, access::kTenantAdmin);
  if (!admins) return fail(admins.error());
  if (*admins <= 1)
    return fail(Error::conflict("the organization must keep at least one TENANT_ADMIN"));
  return {};
}

}  // namespace

nlohmann::json to_json(const CreatedInvitation& c) {
  return {{"id", c.invitation.id},
          {"email", c.invitation.email},
          {"role", c.invitation.role_name},
          {"token", c.token},
          {"expires_at", c.invitation.expires_at}};
}

MemberService::MemberService(db::Database& db, identity::Identity& identity, const Clock& clock)
    : db_(db), identity_(identity), clock_(clock) {}

Result<MemberPage> MemberService::list(const Principal& caller, const http::PageQuery& page) {
  return db_.transact(scope(caller.org_id, true),
                      [&](db::Tx& tx) { return list_members(tx, caller, page); });
}

Result<Member> MemberService::get(const Principal& caller, std::string_view user_id) {
  auto found = db_.transact(scope(caller.org_id, true),
                            [&](db::Tx& tx) { return find_member(tx, caller, user_id); });
  if (!found) return fail(found.error());
  if (!*found) return fail(no_member());
  return std::move(**found);
}

Result<Added> MemberService::add(const Principal& caller, const std::string& email,
                                 const std::string& role_name, const http::Request& req) {
  if (!caller.org_id)
    return fail(Error::invalid("select an organization first (POST /api/auth/switch)"));
  auto added = db_.transact(scope(caller.org_id), [&](db::Tx& tx) -> Result<Added> {
    // Before the role is read: a role deletion in flight either sees this grant or invitation
    // (409) or has deleted the role before it is found here (RoleService::remove).
    if (auto ok = lock_memberships(tx, caller); !ok) return fail(ok.error());
    const TimePoint now = clock_.now();
    auto role = roles::store::find_by_name(tx, caller, role_name);
    if (!role) return fail(role.error());
    if (!*role) return fail(Error::field("role", "is not a role of this organization"));
    if (auto p = missing(caller, (*role)->permissions))
      return fail(escalation("cannot grant a role carrying a permission you do not hold: ", *p));

    auto user = identity::store::find_user_by_email(tx, email);
    if (!user) return fail(user.error());
    if (*user) {
      auto existing = find_member(tx, caller, (*user)->id);
      if (!existing) return fail(existing.error());
      if (*existing) return fail(Error::conflict("already a member of this organization"));
      if (auto ok = grant_role(tx, caller, (*user)->id, (*role)->id, now); !ok)
        return fail(ok.error());
      auto entry = audit::Entry::by(caller, "member.add")
                       .on("user", (*user)->id)
                       .from(req)
                       .with({{"email", email}, {"role", (*role)->name}});
      if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
      auto added = find_member(tx, caller, (*user)->id);
      if (!added) return fail(added.error());
      if (!*added) return fail(Error::internal());
      return Added{std::move(*added), std::nullopt};
    }

    if (auto dropped = drop_pending_invitations(tx, caller, email); !dropped)
      return fail(dropped.error());
    CreatedInvitation created;
    created.token = std::string(kInvitationPrefix) + random_token(kInvitationSecretBytes);
    Invitation& inv = created.invitation;
    inv.id = new_id();
    inv.organization_id = *caller.org_id;
    inv.email = email;
    inv.role_id = (*role)->id;
    inv.role_name = (*role)->name;
    inv.invited_by = caller.user_id;
    inv.created_at = format_time(now);
    inv.expires_at = format_time(now + kInvitationTtl);
    if (auto ok = insert_invitation(tx, caller, inv, hash_token(created.token)); !ok)
      return fail(ok.error());
    auto entry =
        audit::Entry::by(caller, "member.invite")
            .on("invitation", inv.id)
            .from(req)
            .with({{"email", email}, {"role", inv.role_name}, {"expires_at", inv.expires_at}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return Added{std::nullopt, std::move(created)};
  });
  if (added && added->member) identity_.me_cache().forget_user(added->member->user_id);
  return added;
}

Result<Member> MemberService::update(const Principal& caller, std::string_view user_id,
                                     const std::vector<std::string>& role_names,
                                     const http::Request& req) {
  std::optional<identity::Revocation> revoked;
  auto result = db_.transact(scope(caller.org_id), [&](db::Tx& tx) -> Result<Member> {
    revoked.reset();
    if (auto ok = lock_memberships(tx, caller); !ok) return fail(ok.error());
    auto found = find_member(tx, caller, user_id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_member());
    const Member member = std::move(**found);

    std::vector<roles::Role> wanted;
    std::vector<FieldError> unknown;
    for (std::size_t i = 0; i < role_names.size(); ++i) {
      auto role = roles::store::find_by_name(tx, caller, role_names[i]);
      if (!role) return fail(role.error());
      if (!*role)
        unknown.push_back(
            {"roles[" + std::to_string(i) + "]", "is not a role of this organization"});
      else
        wanted.push_back(std::move(**role));
    }
    if (!unknown.empty())
      return fail(Error::invalid("unknown role: " + unknown.front().field, unknown));
    for (const auto& role : wanted) {
      if (auto p = missing(caller, role.permissions))
        return fail(escalation("cannot grant a role carrying a permission you do not hold: ", *p));
    }
    if (auto ok = check_member_below(tx, caller, member); !ok) return fail(ok.error());

    std::vector<std::string> names;
    for (const auto& r : wanted) names.push_back(r.name);
    std::sort(names.begin(), names.end());
    if (names == member.roles) return member;
    if (std::find(names.begin(), names.end(), access::kTenantAdmin) == names.end()) {
      if (auto ok = check_not_last_admin(tx, caller, member); !ok) return fail(ok.error());
    }

    if (auto cleared = revoke_roles(tx, caller, member.user_id); !cleared)
      return fail(cleared.error());
    const TimePoint now = clock_.now();
    for (const auto& role : wanted) {
      if (auto ok = grant_role(tx, caller, member.user_id, role.id, now); !ok)
        return fail(ok.error());
    }
    revoked = identity_.revocations().member(member.user_id, *caller.org_id);
    if (auto ok = identity_.revocations().stage(tx, *revoked); !ok) return fail(ok.error());
    auto entry = audit::Entry::by(caller, "member.update")
                     .on("user", member.user_id)
                     .from(req)
                     .with({{"email", member.email}, {"roles", names}, {"previous", member.roles}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    auto changed = find_member(tx, caller, member.user_id);
    if (!changed) return fail(changed.error());
    if (!*changed) return fail(Error::internal());
    return std::move(**changed);
  });
  if (!result) return fail(result.error());
  if (revoked) identity_.revocations().announce(*revoked);
  return result;
}

Result<void> MemberService::remove(const Principal& caller, std::string_view user_id,
                                   const http::Request& req) {
  std::optional<identity::Revocation> revoked;
  auto result = db_.transact(scope(caller.org_id), [&](db::Tx& tx) -> Result<void> {
    revoked.reset();
    if (auto ok = lock_memberships(tx, caller); !ok) return ok;
    auto found = find_member(tx, caller, user_id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_member());
    const Member& member = **found;
    if (auto ok = check_member_below(tx, caller, member); !ok) return ok;
    if (auto ok = check_not_last_admin(tx, caller, member); !ok) return ok;
    if (auto cleared = revoke_roles(tx, caller, member.user_id); !cleared)
      return fail(cleared.error());
    revoked = identity_.revocations().member(member.user_id, *caller.org_id);
    if (auto ok = identity_.revocations().stage(tx, *revoked); !ok) return ok;
    return audit::record(tx, audit::Entry::by(caller, "member.remove")
                                 .on("user", member.user_id)
                                 .from(req)
                                 .with({{"email", member.email}, {"roles", member.roles}}));
  });
  if (!result) return result;
  if (revoked) identity_.revocations().announce(*revoked);
  return {};
}

Result<identity::Bundle> MemberService::accept(const Principal* caller, const Acceptance& in,
                                               const http::Request& req) {
  if (caller && caller->kind == Principal::Kind::kApiKey)
    return fail(Error{Code::kPermissionDenied, "an API key cannot accept invitations", {}, 0});
  const std::string token_hash = hash_token(in.token);
  // Before any tenant is known: the token names its organization, then the invitation is read
  // as that organization.
  auto found =
      db_.transact(scope(std::nullopt, true), [&](db::Tx& tx) -> Result<std::optional<Invitation>> {
        auto org = invitation_organization(tx, token_hash);
        if (!org) return fail(org.error());
        if (!*org) return std::optional<Invitation>();
        if (auto s = tx.set_scope(*org, std::nullopt); !s) return fail(s.error());
        return find_invitation_by_hash(tx, token_hash);
      });
  if (!found) return fail(found.error());
  const TimePoint now = clock_.now();
  if (!*found || (*found)->accepted_at) return fail(no_invitation());
  const Invitation inv = **found;
  auto expires = parse_time(inv.expires_at);
  if (!expires || *expires <= now) return fail(no_invitation());
  if (caller && caller->email != inv.email)
    return fail(
        Error{Code::kPermissionDenied, "this invitation was sent to another email address", {}, 0});

  std::optional<std::string> password_hash;
  if (!caller) {
    auto existing = db_.transact(scope(std::nullopt, true), [&](db::Tx& tx) {
      return identity::store::find_user_by_email(tx, inv.email);
    });
    if (!existing) return fail(existing.error());
    if (*existing)
      return fail(Error::unauthenticated(
          "an account with the invited address exists: sign in, then accept the invitation"));
    if (!in.password) return fail(Error::field("password", "is required for a new account"));
    auto hashed = identity_.passwords().hash(*in.password);
    if (!hashed) return fail(hashed.error());
    password_hash = std::move(*hashed);
  }

  Principal inviting;
  inviting.org_id = inv.organization_id;
  auto bundle =
      db_.transact(scope(inv.organization_id), [&](db::Tx& tx) -> Result<identity::Bundle> {
        auto marked = mark_invitation_accepted(tx, inv.organization_id, inv.id, now);
        if (!marked) return fail(marked.error());
        if (!*marked) return fail(no_invitation());
        auto org = find_organization(tx, inv.organization_id);
        if (!org) return fail(org.error());
        if (!*org) return fail(no_invitation());

        identity::store::User user;
        if (caller) {
          auto u = identity::store::find_user(tx, caller->user_id);
          if (!u) return fail(u.error());
          if (!*u || (*u)->disabled) return fail(Error::unauthenticated("account not available"));
          user = std::move(**u);
          auto member = is_member(tx, user.id, inv.organization_id);
          if (!member) return fail(member.error());
          if (*member) return fail(Error::conflict("already a member of this organization"));
        } else {
          auto u =
              identity::store::create_user(tx, inv.email, in.name.value_or(""), password_hash, now);
          if (!u) return fail(u.error());
          user = std::move(*u);
          auto signup = audit::Entry::by("user", user.id, "auth.signup")
                            .in(inv.organization_id)
                            .on("user", user.id)
                            .from(req)
                            .with({{"email", user.email}, {"invitation_id", inv.id}});
          if (auto ok = audit::record(tx, signup); !ok) return fail(ok.error());
        }
        if (auto ok = grant_role(tx, inviting, user.id, inv.role_id, now); !ok)
          return fail(ok.error());
        auto bundle = identity_.service().open_session(tx, user, **org, req);
        if (!bundle) return fail(bundle.error());
        auto entry = audit::Entry::by("user", user.id, "member.add")
                         .in(inv.organization_id)
                         .on("user", user.id)
                         .from(req)
                         .with({{"email", user.email},
                                {"role", inv.role_name},
                                {"invitation_id", inv.id},
                                {"session_id", bundle->session_id}});
        if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
        return bundle;
      });
  if (bundle) identity_.me_cache().forget_user(bundle->user.id);
  return bundle;
}

}  // namespace atrium::tenancy
