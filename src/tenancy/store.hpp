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

}  // namespace atrium::tenancy
