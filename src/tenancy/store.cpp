#include "tenancy/store.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "platform/ids.hpp"

namespace atrium::tenancy {
namespace {

constexpr std::size_t kMaxSlug = 48;
constexpr int kSlugAttempts = 5;

Organization read_org(const db::Row& row, std::size_t first = 0) {
  return Organization{row.text(first), row.text(first + 1), row.text(first + 2),
                      row.text(first + 3), row.text(first + 4)};
}

std::string random_suffix() {
  constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (unsigned char b : random_bytes(6)) out.push_back(kChars[b % kChars.size()]);
  return out;
}

}  // namespace

nlohmann::json to_json(const Organization& org) {
  return {{"id", org.id}, {"name", org.name}, {"slug", org.slug}, {"created_at", org.created_at}};
}

std::string slugify(std::string_view name) {
  std::string slug;
  bool hyphen = false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      if (hyphen && !slug.empty()) slug.push_back('-');
      hyphen = false;
      slug.push_back(static_cast<char>(std::tolower(u)));
      if (slug.size() >= kMaxSlug) break;
    } else {
      hyphen = true;
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "org" : slug;
}

Result<Organization> create_organization(db::Tx& tx, std::string_view id, std::string_view name,
                                         TimePoint now) {
  const std::string base = slugify(name);
  Organization org{std::string(id), std::string(name), base, format_time(now), format_time(now)};
  // Other organizations' slugs are invisible under row-level security (PostgreSQL), so the
  // insert itself tells whether the slug is free; a conflict on the id is still an error.
  for (int attempt = 0;; ++attempt) {
    auto r = tx.query(
        "INSERT INTO organizations (id, name, slug, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO NOTHING RETURNING id",
        {org.id, org.name, org.slug, org.created_at, org.updated_at});
    if (!r) return fail(r.error());
    if (!r->empty()) return org;
    if (attempt + 1 >= kSlugAttempts) return fail(Error::conflict("could not find a free slug"));
    org.slug = base.substr(0, kMaxSlug - 7) + "-" + random_suffix();
  }
}

Result<std::optional<Organization>> find_organization(db::Tx& tx, std::string_view org_id) {
  auto row = tx.query_one(
      "SELECT id, name, slug, created_at, updated_at FROM organizations WHERE id = $1", {org_id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Organization>();
  return std::optional<Organization>(read_org(**row));
}

Result<void> add_member(db::Tx& tx, std::string_view org_id, std::string_view user_id,
                        std::string_view role, TimePoint now) {
  // The organization's own role wins over a system role of the same name.
  auto role_row = tx.query_one(
      "SELECT id FROM roles WHERE name = $1 AND (organization_id = $2 OR organization_id IS NULL)"
      " ORDER BY organization_id IS NULL LIMIT 1",
      {role, org_id});
  if (!role_row) return fail(role_row.error());
  if (!*role_row) return fail(Error::not_found("no such role: " + std::string(role)));
  auto r = tx.execute(
      "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
      " VALUES ($1, $2, $3, $4, $5)",
      {new_id(), user_id, org_id, (*role_row)->text(0), format_time(now)});
  if (!r) return fail(r.error());
  return {};
}

Result<std::vector<Membership>> memberships_of_user(db::Tx& tx, std::string_view user_id) {
  auto rows = tx.query(
      "SELECT o.id, o.name, o.slug, o.created_at, o.updated_at, r.name, uor.created_at"
      " FROM user_organization_roles uor"
      " JOIN organizations o ON o.id = uor.organization_id"
      " JOIN roles r ON r.id = uor.role_id"
      " WHERE uor.user_id = $1"
      " ORDER BY uor.created_at, o.id, r.name",
      {user_id});
  if (!rows) return fail(rows.error());
  std::vector<Membership> out;
  std::map<std::string, std::size_t> index;
  for (const auto& row : *rows) {
    auto org = read_org(row);
    auto [it, fresh] = index.emplace(org.id, out.size());
    if (fresh) out.push_back(Membership{std::move(org), {}, row.text(6)});
    auto& m = out[it->second];
    m.roles.push_back(row.text(5));
    m.joined_at = std::min(m.joined_at, row.text(6));
  }
  for (auto& m : out) std::sort(m.roles.begin(), m.roles.end());
  return out;
}

Result<std::vector<std::string>> global_roles_of_user(db::Tx& tx, std::string_view user_id) {
  auto rows = tx.query(
      "SELECT r.name FROM user_organization_roles uor JOIN roles r ON r.id = uor.role_id"
      " WHERE uor.user_id = $1 AND uor.organization_id IS NULL ORDER BY r.name",
      {user_id});
  if (!rows) return fail(rows.error());
  std::vector<std::string> out;
  for (const auto& row : *rows) out.push_back(row.text(0));
  return out;
}

Result<bool> is_member(db::Tx& tx, std::string_view user_id, std::string_view org_id) {
  auto row = tx.query_one(
      "SELECT 1 FROM user_organization_roles WHERE user_id = $1 AND organization_id = $2 LIMIT 1",
      {user_id, org_id});
  if (!row) return fail(row.error());
  return row->has_value();
}

Result<std::vector<std::string>> permissions_of(db::Tx& tx, std::string_view user_id,
                                                const std::optional<std::string>& org_id) {
  auto rows = org_id ? tx.query(
                           "SELECT DISTINCT p.name FROM user_organization_roles uor"
                           " JOIN role_permissions rp ON rp.role_id = uor.role_id"
                           " JOIN permissions p ON p.id = rp.permission_id"
                           " WHERE uor.user_id = $1"
                           " AND (uor.organization_id = $2 OR uor.organization_id IS NULL)"
                           " ORDER BY p.name",
                           {user_id, *org_id})
                     : tx.query(
                           "SELECT DISTINCT p.name FROM user_organization_roles uor"
                           " JOIN role_permissions rp ON rp.role_id = uor.role_id"
                           " JOIN permissions p ON p.id = rp.permission_id"
                           " WHERE uor.user_id = $1 AND uor.organization_id IS NULL"
                           " ORDER BY p.name",
                           {user_id});
  if (!rows) return fail(rows.error());
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) out.push_back(row.text(0));
  return out;
}

Result<std::optional<Organization>> current_organization(db::Tx& tx, const Principal& principal) {
  if (!principal.org_id) return std::optional<Organization>();
  return find_organization(tx, *principal.org_id);
}

}  // namespace atrium::tenancy
