// Organizations and memberships: the store functions sign-up, login and token issue need, and the
// base the organization, member and invitation routes build on.
//
// Two kinds of functions live here. Identity-level ones run before a Principal exists (sign-up,
// login, refresh) and take the user explicitly. Tenant-scoped ones take the Principal first and
// only ever see its organization (DESIGN.md §2, TEAM.md rule 5). All of them run inside the
// caller's transaction; errors are the database's (a duplicate is Code::kConflict).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/pagination.hpp"
#include "platform/clock.hpp"
#include "platform/principal.hpp"

namespace atrium::tenancy {

struct Organization {
  std::string id;
  std::string name;
  std::string slug;
  std::string created_at;
  std::string updated_at;
};

// {id, name, slug, created_at}
nlohmann::json to_json(const Organization& org);
// The same object written straight into `out` (a list's page): the bytes of to_json().
void write_json(http::JsonText& out, const Organization& org);

struct Membership {
  Organization organization;
  std::vector<std::string> roles;  // role names, sorted
  std::string joined_at;           // the earliest of the member's role grants
};

// A URL-friendly slug: lower-case ASCII letters and digits joined by single hyphens, at most 48
// characters; "org" when nothing usable remains.
std::string slugify(std::string_view name);

// Creates organization `id` (a new UUIDv7, chosen by the caller so the transaction can be opened
// for that tenant) with a slug derived from `name`, made unique with a random suffix when taken.
Result<Organization> create_organization(db::Tx& tx, std::string_view id, std::string_view name,
                                         TimePoint now);

Result<std::optional<Organization>> find_organization(db::Tx& tx, std::string_view org_id);

// Grants `user_id` the role named `role` in the organization: a system role or one of the
// organization's own. Code::kNotFound for an unknown role; kConflict if already granted.
Result<void> add_member(db::Tx& tx, std::string_view org_id, std::string_view user_id,
                        std::string_view role, TimePoint now);

// Every organization the user belongs to, the earliest joined first.
Result<std::vector<Membership>> memberships_of_user(db::Tx& tx, std::string_view user_id);

// Names of the user's global roles (organization NULL), e.g. SUPER_ADMIN.
Result<std::vector<std::string>> global_roles_of_user(db::Tx& tx, std::string_view user_id);

// True when the user holds at least one role in the organization.
Result<bool> is_member(db::Tx& tx, std::string_view user_id, std::string_view org_id);

// The auth enrichment (the seed's auth-enrichment.ts): the permissions of every role the user
// holds in `org_id` plus those of their global roles, de-duplicated and sorted. With no
// organization, the global roles' permissions only.
Result<std::vector<std::string>> permissions_of(db::Tx& tx, std::string_view user_id,
                                                const std::optional<std::string>& org_id);

// The caller's own organization (tenant-scoped): nullopt for a principal without one.
Result<std::optional<Organization>> current_organization(db::Tx& tx, const Principal& principal);

// --- Organizations, for the organization routes -------------------------------------------

struct OrganizationPage {
  std::vector<Organization> items;
  std::optional<std::string> next_key;  // the last item's id when another page follows
};

// The organizations the user belongs to, in creation order (identity-level: the user's own).
Result<OrganizationPage> organizations_of_user(db::Tx& tx, std::string_view user_id,
                                               const http::PageQuery& page);
// A global super admin's reads across organizations: every organization in creation order, or
// one by id. `reader` is the reader's user id; nothing is found unless that user is enabled and
// holds `*` through a global role. On PostgreSQL through the SECURITY DEFINER functions
// cross_tenant_organizations() and cross_tenant_organization() (the application's role reads no
// other tenant's row by itself: docs/POSTGRESQL.md); on SQLite the same query. Run them in a
// TxOptions::cross_tenant_read transaction (logged, read-only).
Result<OrganizationPage> all_organizations(db::Tx& tx, std::string_view reader,
                                           const http::PageQuery& page);
Result<std::optional<Organization>> any_organization(db::Tx& tx, std::string_view reader,
                                                     std::string_view org_id);
// Inserts organization `id` with exactly `slug`; Code::kConflict when the slug is taken.
Result<Organization> insert_organization(db::Tx& tx, std::string_view id, std::string_view name,
                                         std::string_view slug, TimePoint now);
// Renames the principal's organization; false when it is gone. kConflict: slug taken.
Result<bool> update_organization(db::Tx& tx, const Principal& principal, std::string_view name,
                                 std::string_view slug, TimePoint now);
// Deletes the principal's organization and everything it owns (foreign keys cascade); the
// audit log keeps its entries. False when it is gone.
Result<bool> delete_organization(db::Tx& tx, const Principal& principal);

// --- Members of the principal's organization -------------------------------------------------

struct Member {
  std::string user_id;
  std::string email;
  std::string name;
  std::vector<std::string> roles;  // role names, sorted
  std::string joined_at;           // the earliest of the member's role grants
};

// {id (the user's), email, name, roles, joined_at}
nlohmann::json to_json(const Member& member);
// The same object written straight into `out` (a list's page): the bytes of to_json().
void write_json(http::JsonText& out, const Member& member);

struct MemberPage {
  std::vector<Member> items;
  std::optional<std::string> next_key;  // the last item's email
};

// Ordered by email, so pages stay stable whatever joins meanwhile.
Result<MemberPage> list_members(db::Tx& tx, const Principal& principal,
                                const http::PageQuery& page);
Result<std::optional<Member>> find_member(db::Tx& tx, const Principal& principal,
                                          std::string_view user_id);
// The concrete permission names the member's roles in this organization grant (global roles
// excluded: they are not the organization's to change).
Result<std::vector<std::string>> member_permissions(db::Tx& tx, const Principal& principal,
                                                    std::string_view user_id);
// Grants the role (by id) in the principal's organization; kConflict when already held.
Result<void> grant_role(db::Tx& tx, const Principal& principal, std::string_view user_id,
                        std::string_view role_id, TimePoint now);
// Removes every role the user holds in the principal's organization; returns how many.
Result<std::int64_t> revoke_roles(db::Tx& tx, const Principal& principal, std::string_view user_id);
// Members holding the system role `role` (e.g. TENANT_ADMIN) in the principal's organization.
Result<std::int64_t> count_system_role_holders(db::Tx& tx, const Principal& principal,
                                               std::string_view role);
// Serialises membership changes of the principal's organization (members added, changed and
// removed, and roles deleted) until the transaction ends, so two concurrent removals cannot each
// leave the other as the last admin and both succeed, nor a role's deletion take a grant or an
// invitation answered meanwhile with it.
Result<void> lock_memberships(db::Tx& tx, const Principal& principal);

// --- Invitations -----------------------------------------------------------------------------

struct Invitation {
  std::string id;
  std::string organization_id;
  std::string email;
  std::string role_id;
  std::string role_name;
  std::optional<std::string> invited_by;
  std::string created_at;
  std::string expires_at;
  std::optional<std::string> accepted_at;
};

// Stores an invitation of the principal's organization; only the token's hash is kept.
Result<void> insert_invitation(db::Tx& tx, const Principal& principal, const Invitation& inv,
                               std::string_view token_hash);
// Deletes the pending invitations of `email` (a new one supersedes them); returns how many.
Result<std::int64_t> drop_pending_invitations(db::Tx& tx, const Principal& principal,
                                              std::string_view email);
// The organization of the invitation a presented token opens, before any tenant is known
// (nullopt: no such invitation). On PostgreSQL through invitation_organization(), the narrow way
// past row-level security (docs/POSTGRESQL.md); the caller then scopes its transaction to it.
Result<std::optional<std::string>> invitation_organization(db::Tx& tx, std::string_view token_hash);
// The invitation a presented token opens, in the transaction's organization.
Result<std::optional<Invitation>> find_invitation_by_hash(db::Tx& tx, std::string_view token_hash);
// Marks a pending invitation of `org_id` accepted; false when it was accepted meanwhile.
Result<bool> mark_invitation_accepted(db::Tx& tx, std::string_view org_id, std::string_view id,
                                      TimePoint now);

// --- Secrets ---------------------------------------------------------------------------------

// Writes (inserts or replaces) a sealed secret of the principal's organization; true when it
// was new.
Result<bool> put_secret(db::Tx& tx, const Principal& principal, std::string_view name,
                        std::string_view ciphertext, std::string_view nonce, TimePoint now);

}  // namespace atrium::tenancy
