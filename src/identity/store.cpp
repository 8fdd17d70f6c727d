#include "identity/store.hpp"

#include "platform/ids.hpp"

namespace atrium::identity::store {
namespace {

constexpr std::string_view kUserColumns = "id, email, name, password_hash, disabled, created_at";

User read_user(const db::Row& r) {
  return User{r.text(0), r.text(1), r.text(2), r.optional_text(3), r.boolean(4), r.text(5)};
}

constexpr std::string_view kKeyColumns =
    "id, organization_id, name, prefix, permissions, created_by, created_at, last_used_at,"
    " expires_at, revoked_at";

ApiKey read_key(const db::Row& r) {
  ApiKey k{
      r.text(0),          r.text(1), r.text(2),          r.text(3),          {},
      r.optional_text(5), r.text(6), r.optional_text(7), r.optional_text(8), r.optional_text(9)};
  auto perms = nlohmann::json::parse(r.text(4), nullptr, false);
  if (perms.is_array()) {
    for (const auto& p : perms)
      if (p.is_string()) k.permissions.push_back(p.get<std::string>());
  }
  return k;
}

std::string sql(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s(a);
  s += b;
  s += c;
  return s;
}

}  // namespace

nlohmann::json to_json(const User& u) {
  return {{"id", u.id}, {"email", u.email}, {"name", u.name}};
}

Result<std::optional<User>> find_user_by_email(db::Tx& tx, std::string_view email) {
  auto row = tx.query_one(sql("SELECT ", kUserColumns, " FROM users WHERE email = $1"), {email});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<User>();
  return std::optional<User>(read_user(**row));
}

Result<std::optional<User>> find_user(db::Tx& tx, std::string_view user_id) {
  auto row = tx.query_one(sql("SELECT ", kUserColumns, " FROM users WHERE id = $1"), {user_id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<User>();
  return std::optional<User>(read_user(**row));
}

Result<User> create_user(db::Tx& tx, std::string_view email, std::string_view name,
                         const std::optional<std::string>& password_hash, TimePoint now) {
  auto existing = find_user_by_email(tx, email);
  if (!existing) return fail(existing.error());
  if (*existing) return fail(Error::conflict("an account with this email already exists"));
  User u{new_id(), std::string(email), std::string(name), password_hash, false, format_time(now)};
  auto r = tx.execute(
      "INSERT INTO users (id, email, name, password_hash, disabled, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $6)",
      {u.id, u.email, u.name, u.password_hash, false, u.created_at});
  if (!r) {
    if (r.error().code == Code::kConflict)
      return fail(Error::conflict("an account with this email already exists"));
    return fail(r.error());
  }
  return u;
}

Result<void> set_password_hash(db::Tx& tx, std::string_view user_id, std::string_view hash,
                               TimePoint now) {
  auto r = tx.execute("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                      {hash, format_time(now), user_id});
  if (!r) return fail(r.error());
  return {};
}

Result<void> grant_global_role(db::Tx& tx, std::string_view user_id, std::string_view role,
                               TimePoint now) {
  auto role_row =
      tx.query_one("SELECT id FROM roles WHERE organization_id IS NULL AND name = $1", {role});
  if (!role_row) return fail(role_row.error());
  if (!*role_row) return fail(Error::not_found("no such role: " + std::string(role)));
  auto held = tx.query_one(
      "SELECT 1 FROM user_organization_roles WHERE user_id = $1 AND organization_id IS NULL"
      " AND role_id = $2",
      {user_id, (*role_row)->text(0)});
  if (!held) return fail(held.error());
  if (*held) return fail(Error::conflict("role already granted"));
  auto r = tx.execute(
      "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
      " VALUES ($1, $2, NULL, $3, $4)",
      {new_id(), user_id, (*role_row)->text(0), format_time(now)});
  if (!r) return fail(r.error());
  return {};
}

Result<std::optional<RefreshToken>> find_refresh_token(db::Tx& tx, std::string_view token_hash) {
  auto row = tx.query_one(
      "SELECT id, user_id, organization_id, family_id, expires_at, revoked_at, replaced_by"
      " FROM refresh_tokens WHERE token_hash = $1",
      {token_hash});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<RefreshToken>();
  const auto& r = **row;
  return std::optional<RefreshToken>(RefreshToken{r.text(0), r.text(1), r.optional_text(2),
                                                  r.text(3), r.text(4), r.optional_text(5),
                                                  r.optional_text(6)});
}

Result<void> insert_refresh_token(db::Tx& tx, const RefreshToken& t, std::string_view token_hash,
                                  const SessionOrigin& origin, TimePoint now) {
  auto r = tx.execute(
      "INSERT INTO refresh_tokens (id, user_id, organization_id, family_id, token_hash, expires_at,"
      " created_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {t.id, t.user_id, t.org_id, t.family_id, token_hash, t.expires_at, format_time(now),
       origin.ip, origin.user_agent});
  if (!r) return fail(r.error());
  return {};
}

Result<bool> mark_refresh_token_spent(db::Tx& tx, std::string_view id,
                                      std::string_view replaced_by) {
  auto r = tx.execute(
      "UPDATE refresh_tokens SET replaced_by = $1"
      " WHERE id = $2 AND replaced_by IS NULL AND revoked_at IS NULL",
      {replaced_by, id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<std::int64_t> revoke_family(db::Tx& tx, std::string_view family_id, TimePoint now) {
  return tx.execute(
      "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
      {format_time(now), family_id});
}

nlohmann::json to_json(const ApiKey& k) {
  auto opt = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"id", k.id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"permissions", k.permissions},
          {"created_by", opt(k.created_by)},
          {"created_at", k.created_at},
          {"last_used_at", opt(k.last_used_at)},
          {"expires_at", opt(k.expires_at)}};
}

Result<void> insert_api_key(db::Tx& tx, const ApiKey& k, std::string_view key_hash) {
  auto r = tx.execute(
      "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, permissions, created_by,"
      " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {k.id, k.org_id, k.name, k.prefix, key_hash, nlohmann::json(k.permissions).dump(),
       k.created_by, k.created_at, k.expires_at});
  if (!r) return fail(r.error());
  return {};
}

Result<std::optional<std::string>> api_key_organization(db::Tx& tx, std::string_view key_hash) {
  auto row = tx.query_one(tx.dialect() == "postgresql"
                              ? "SELECT api_key_organization($1)"
                              : "SELECT organization_id FROM api_keys WHERE key_hash = $1",
                          {key_hash});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<std::string>();
  return (**row).optional_text(0);
}

Result<std::optional<ApiKey>> find_api_key_by_hash(db::Tx& tx, std::string_view key_hash) {
  auto row =
      tx.query_one(sql("SELECT ", kKeyColumns, " FROM api_keys WHERE key_hash = $1"), {key_hash});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<ApiKey>();
  return std::optional<ApiKey>(read_key(**row));
}

Result<ApiKeyPage> list_api_keys(db::Tx& tx, const Principal& principal,
                                 const http::PageQuery& page) {
  if (!principal.org_id) return ApiKeyPage{};
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  auto rows = page.after
                  ? tx.query(sql("SELECT ", kKeyColumns,
                                 " FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL"
                                 " AND id < $2 ORDER BY id DESC LIMIT $3"),
                             {*principal.org_id, *page.after, limit})
                  : tx.query(sql("SELECT ", kKeyColumns,
                                 " FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL"
                                 " ORDER BY id DESC LIMIT $2"),
                             {*principal.org_id, limit});
  if (!rows) return fail(rows.error());
  ApiKeyPage out;
  for (const auto& row : *rows) {
    if (out.items.size() == page.limit) {
      out.next_key = out.items.back().id;
      break;
    }
    out.items.push_back(read_key(row));
  }
  return out;
}

Result<bool> revoke_api_key(db::Tx& tx, const Principal& principal, std::string_view key_id,
                            TimePoint now) {
  if (!principal.org_id) return false;
  auto r = tx.execute(
      "UPDATE api_keys SET revoked_at = $1"
      " WHERE organization_id = $2 AND id = $3 AND revoked_at IS NULL",
      {format_time(now), *principal.org_id, key_id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<void> touch_api_key(db::Tx& tx, std::string_view key_id, TimePoint used_at) {
  const std::string at = format_time(used_at);
  auto r = tx.execute(
      "UPDATE api_keys SET last_used_at = $1"
      " WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
      {at, key_id});
  if (!r) return fail(r.error());
  return {};
}

}  // namespace atrium::identity::store
