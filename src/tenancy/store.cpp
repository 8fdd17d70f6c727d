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

void write_json(http::JsonText& out, const Organization& org) {
  // Keys in nlohmann's (sorted) order: the bytes of to_json().
  out.begin_object();
  out.key("created_at");
  out.string(org.created_at);
  out.key("id");
  out.string(org.id);
  out.key("name");
  out.string(org.name);
  out.key("slug");
  out.string(org.slug);
  out.end_object();
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

namespace atrium::tenancy {
namespace {

constexpr std::string_view kOrgColumns = "id, name, slug, created_at, updated_at";

Result<OrganizationPage> org_page(Result<db::Rows> rows, std::size_t limit) {
  if (!rows) return fail(rows.error());
  OrganizationPage out;
  for (const auto& row : *rows) {
    if (out.items.size() == limit) {
      out.next_key = out.items.back().id;
      break;
    }
    out.items.push_back(read_org(row));
  }
  return out;
}

std::string placeholders(std::size_t first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

// Fills in the roles and join times of `members` (of `org_id`) with one query.
Result<void> load_roles(db::Tx& tx, const std::string& org_id, std::vector<Member>& members) {
  if (members.empty()) return {};
  std::vector<db::Value> params{org_id};
  for (const auto& m : members) params.emplace_back(m.user_id);
  auto rows = tx.query(
      "SELECT uor.user_id, r.name, uor.created_at FROM user_organization_roles uor"
      " JOIN roles r ON r.id = uor.role_id WHERE uor.organization_id = $1 AND uor.user_id IN (" +
          placeholders(2, members.size()) + ") ORDER BY r.name",
      db::Params(params));
  if (!rows) return fail(rows.error());
  std::map<std::string, Member*> by_id;
  for (auto& m : members) by_id[m.user_id] = &m;
  for (const auto& row : *rows) {
    auto it = by_id.find(row.text(0));
    if (it == by_id.end()) continue;
    Member& m = *it->second;
    m.roles.push_back(row.text(1));
    if (m.joined_at.empty() || row.text(2) < m.joined_at) m.joined_at = row.text(2);
  }
  return {};
}

constexpr std::string_view kMemberSelect =
    "SELECT u.id, u.email, u.name FROM users u WHERE u.id IN"
    " (SELECT uor.user_id FROM user_organization_roles uor WHERE uor.organization_id = $1)";

}  // namespace

Result<OrganizationPage> organizations_of_user(db::Tx& tx, std::string_view user_id,
                                               const http::PageQuery& page) {
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  const std::string base =
      "SELECT id, name, slug, created_at, updated_at FROM organizations WHERE id IN"
      " (SELECT organization_id FROM user_organization_roles WHERE user_id = $1)";
  return org_page(page.after ? tx.query(base + " AND id > $2 ORDER BY id LIMIT $3",
                                        {user_id, *page.after, limit})
                             : tx.query(base + " ORDER BY id LIMIT $2", {user_id, limit}),
                  page.limit);
}

// SQLite's twin of holds_global_wildcard() (migrations/postgres/0005), `reader` being $1.
constexpr std::string_view kReaderHoldsGlobalWildcard =
    "EXISTS (SELECT 1 FROM user_organization_roles m JOIN users u ON u.id = m.user_id"
    " JOIN role_permissions rp ON rp.role_id = m.role_id"
    " JOIN permissions p ON p.id = rp.permission_id"
    " WHERE m.user_id = $1 AND m.organization_id IS NULL AND NOT u.disabled AND p.name = '*')";

Result<OrganizationPage> all_organizations(db::Tx& tx, std::string_view reader,
                                           const http::PageQuery& page) {
  if (!is_uuid(reader)) return OrganizationPage{};
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  const db::Value after = page.after ? db::Value(*page.after) : db::Value(nullptr);
  if (tx.dialect() == "postgresql") {
    return org_page(tx.query("SELECT id, name, slug, created_at, updated_at"
                             " FROM cross_tenant_organizations($1, $2, $3)",
                             {reader, after, limit}),
                    page.limit);
  }
  std::string sql = "SELECT ";
  sql += kOrgColumns;
  sql += " FROM organizations WHERE ";
  sql += kReaderHoldsGlobalWildcard;
  sql += " AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3";
  return org_page(tx.query(sql, {reader, after, limit}), page.limit);
}

Result<std::optional<Organization>> any_organization(db::Tx& tx, std::string_view reader,
                                                     std::string_view org_id) {
  if (!is_uuid(reader) || !is_uuid(org_id)) return std::optional<Organization>();
  std::string sql;
  if (tx.dialect() == "postgresql") {
    sql = "SELECT id, name, slug, created_at, updated_at FROM cross_tenant_organization($1, $2)";
  } else {
    sql = "SELECT ";
    sql += kOrgColumns;
    sql += " FROM organizations WHERE ";
    sql += kReaderHoldsGlobalWildcard;
    sql += " AND id = $2";
  }
  auto row = tx.query_one(sql, {reader, org_id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Organization>();
  return std::optional<Organization>(read_org(**row));
}

Result<Organization> insert_organization(db::Tx& tx, std::string_view id, std::string_view name,
                                         std::string_view slug, TimePoint now) {
  Organization org{std::string(id), std::string(name), std::string(slug), format_time(now),
                   format_time(now)};
  auto r = tx.execute(
      "INSERT INTO organizations (id, name, slug, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5)",
      {org.id, org.name, org.slug, org.created_at, org.updated_at});
  if (!r) return fail(r.error());
  return org;
}

Result<bool> update_organization(db::Tx& tx, const Principal& principal, std::string_view name,
                                 std::string_view slug, TimePoint now) {
  if (!principal.org_id) return false;
  auto r =
      tx.execute("UPDATE organizations SET name = $1, slug = $2, updated_at = $3 WHERE id = $4",
                 {name, slug, format_time(now), *principal.org_id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<bool> delete_organization(db::Tx& tx, const Principal& principal) {
  if (!principal.org_id) return false;
  auto r = tx.execute("DELETE FROM organizations WHERE id = $1", {*principal.org_id});
  if (!r) return fail(r.error());
  return *r == 1;
}

nlohmann::json to_json(const Member& m) {
  return {{"id", m.user_id},
          {"email", m.email},
          {"name", m.name},
          {"roles", m.roles},
          {"joined_at", m.joined_at}};
}

void write_json(http::JsonText& out, const Member& m) {
  // Keys in nlohmann's (sorted) order: the bytes of to_json().
  out.begin_object();
  out.key("email");
  out.string(m.email);
  out.key("id");
  out.string(m.user_id);
  out.key("joined_at");
  out.string(m.joined_at);
  out.key("name");
  out.string(m.name);
  out.key("roles");
  out.begin_array();
  for (const auto& role : m.roles) out.string(role);
  out.end_array();
  out.end_object();
}

Result<MemberPage> list_members(db::Tx& tx, const Principal& principal,
                                const http::PageQuery& page) {
  if (!principal.org_id) return MemberPage{};
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  const std::string base(kMemberSelect);
  auto rows = page.after
                  ? tx.query(base + " AND u.email > $2 ORDER BY u.email LIMIT $3",
                             {*principal.org_id, *page.after, limit})
                  : tx.query(base + " ORDER BY u.email LIMIT $2", {*principal.org_id, limit});
  if (!rows) return fail(rows.error());
  MemberPage out;
  for (const auto& row : *rows) {
    if (out.items.size() == page.limit) {
      out.next_key = out.items.back().email;
      break;
    }
    out.items.push_back(Member{row.text(0), row.text(1), row.text(2), {}, {}});
  }
  if (auto ok = load_roles(tx, *principal.org_id, out.items); !ok) return fail(ok.error());
  return out;
}

Result<std::optional<Member>> find_member(db::Tx& tx, const Principal& principal,
                                          std::string_view user_id) {
  if (!principal.org_id || !is_uuid(user_id)) return std::optional<Member>();
  auto row =
      tx.query_one(std::string(kMemberSelect) + " AND u.id = $2", {*principal.org_id, user_id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Member>();
  std::vector<Member> one{Member{(*row)->text(0), (*row)->text(1), (*row)->text(2), {}, {}}};
  if (auto ok = load_roles(tx, *principal.org_id, one); !ok) return fail(ok.error());
  return std::optional<Member>(std::move(one.front()));
}

Result<std::vector<std::string>> member_permissions(db::Tx& tx, const Principal& principal,
                                                    std::string_view user_id) {
  std::vector<std::string> out;
  if (!principal.org_id || !is_uuid(user_id)) return out;
  auto rows = tx.query(
      "SELECT DISTINCT p.name FROM user_organization_roles uor"
      " JOIN role_permissions rp ON rp.role_id = uor.role_id"
      " JOIN permissions p ON p.id = rp.permission_id"
      " WHERE uor.organization_id = $1 AND uor.user_id = $2 ORDER BY p.name",
      {*principal.org_id, user_id});
  if (!rows) return fail(rows.error());
  for (const auto& row : *rows) out.push_back(row.text(0));
  return out;
}

Result<void> grant_role(db::Tx& tx, const Principal& principal, std::string_view user_id,
                        std::string_view role_id, TimePoint now) {
  if (!principal.org_id) return fail(Error::not_found("no such organization"));
  auto r = tx.execute(
      "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
      " VALUES ($1, $2, $3, $4, $5)",
      {new_id(), user_id, *principal.org_id, role_id, format_time(now)});
  if (!r) return fail(r.error());
  return {};
}

Result<std::int64_t> revoke_roles(db::Tx& tx, const Principal& principal,
                                  std::string_view user_id) {
  if (!principal.org_id || !is_uuid(user_id)) return 0;
  return tx.execute(
      "DELETE FROM user_organization_roles WHERE organization_id = $1 AND user_id = $2",
      {*principal.org_id, user_id});
}

Result<std::int64_t> count_system_role_holders(db::Tx& tx, const Principal& principal,
                                               std::string_view role) {
  if (!principal.org_id) return 0;
  auto row = tx.query_one(
      "SELECT COUNT(DISTINCT uor.user_id) FROM user_organization_roles uor"
      " JOIN roles r ON r.id = uor.role_id"
      " WHERE uor.organization_id = $1 AND r.organization_id IS NULL AND r.name = $2",
      {*principal.org_id, role});
  if (!row) return fail(row.error());
  return *row ? (*row)->integer(0) : 0;
}

Result<void> lock_memberships(db::Tx& tx, const Principal& principal) {
  if (!principal.org_id) return {};
  // A no-op write to the organization's row: a row lock on PostgreSQL (held to the end of the
  // transaction), and on SQLite the write transaction already runs alone.
  auto r = tx.execute("UPDATE organizations SET updated_at = updated_at WHERE id = $1",
                      {*principal.org_id});
  if (!r) return fail(r.error());
  return {};
}

Result<void> insert_invitation(db::Tx& tx, const Principal& principal, const Invitation& inv,
                               std::string_view token_hash) {
  if (!principal.org_id || inv.organization_id != *principal.org_id)
    return fail(Error::not_found("no such organization"));
  auto r = tx.execute(
      "INSERT INTO invitations (id, organization_id, email, role_id, token_hash, invited_by,"
      " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {inv.id, inv.organization_id, inv.email, inv.role_id, token_hash, inv.invited_by,
       inv.created_at, inv.expires_at});
  if (!r) return fail(r.error());
  return {};
}

Result<std::int64_t> drop_pending_invitations(db::Tx& tx, const Principal& principal,
                                              std::string_view email) {
  if (!principal.org_id) return 0;
  return tx.execute(
      "DELETE FROM invitations WHERE organization_id = $1 AND email = $2 AND accepted_at IS NULL",
      {*principal.org_id, email});
}

Result<std::optional<std::string>> invitation_organization(db::Tx& tx,
                                                           std::string_view token_hash) {
  auto row = tx.query_one(tx.dialect() == "postgresql"
                              ? "SELECT invitation_organization($1)"
                              : "SELECT organization_id FROM invitations WHERE token_hash = $1",
                          {token_hash});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<std::string>();
  return (**row).optional_text(0);
}

Result<std::optional<Invitation>> find_invitation_by_hash(db::Tx& tx, std::string_view token_hash) {
  auto row = tx.query_one(
      "SELECT i.id, i.organization_id, i.email, i.role_id, r.name, i.invited_by, i.created_at,"
      " i.expires_at, i.accepted_at FROM invitations i JOIN roles r ON r.id = i.role_id"
      " WHERE i.token_hash = $1",
      {token_hash});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Invitation>();
  const auto& r = **row;
  return std::optional<Invitation>(Invitation{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
                                              r.optional_text(5), r.text(6), r.text(7),
                                              r.optional_text(8)});
}

Result<bool> mark_invitation_accepted(db::Tx& tx, std::string_view org_id, std::string_view id,
                                      TimePoint now) {
  auto r = tx.execute(
      "UPDATE invitations SET accepted_at = $1"
      " WHERE organization_id = $2 AND id = $3 AND accepted_at IS NULL",
      {format_time(now), org_id, id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<bool> put_secret(db::Tx& tx, const Principal& principal, std::string_view name,
                        std::string_view ciphertext, std::string_view nonce, TimePoint now) {
  if (!principal.org_id) return fail(Error::not_found("no such organization"));
  auto existing = tx.query_one("SELECT 1 FROM org_secrets WHERE organization_id = $1 AND name = $2",
                               {*principal.org_id, name});
  if (!existing) return fail(existing.error());
  auto r = tx.execute(
      "INSERT INTO org_secrets (organization_id, name, ciphertext, nonce, updated_at)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id, name) DO UPDATE"
      " SET ciphertext = excluded.ciphertext, nonce = excluded.nonce,"
      " updated_at = excluded.updated_at",
      {*principal.org_id, name, ciphertext, nonce, format_time(now)});
  if (!r) return fail(r.error());
  return !existing->has_value();
}

}  // namespace atrium::tenancy
