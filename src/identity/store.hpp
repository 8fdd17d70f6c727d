// Storage of identities, sessions (refresh-token families) and API keys. Functions run inside the
// caller's transaction. Identity-level functions (users, refresh tokens, a key looked up by its
// hash) run before a Principal exists; the API-key management functions are tenant-scoped and
// take the Principal first, so another organization's key is simply not found.
//
// Secrets are never stored: refresh tokens and API keys are kept as BLAKE2b hashes
// (platform/ids.hpp hash_token), passwords as Argon2id strings. Emails are stored lower-cased.
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

namespace atrium::identity::store {

struct User {
  std::string id;
  std::string email;
  std::string name;
  std::optional<std::string> password_hash;
  bool disabled = false;
  std::string created_at;
};

// {id, email, name}
nlohmann::json to_json(const User& user);

Result<std::optional<User>> find_user_by_email(db::Tx& tx, std::string_view email);
Result<std::optional<User>> find_user(db::Tx& tx, std::string_view user_id);
// Code::kConflict when the email is taken.
Result<User> create_user(db::Tx& tx, std::string_view email, std::string_view name,
                         const std::optional<std::string>& password_hash, TimePoint now);
Result<void> set_password_hash(db::Tx& tx, std::string_view user_id, std::string_view hash,
                               TimePoint now);
// Grants a global role (organization NULL), e.g. SUPER_ADMIN; kConflict if already held.
Result<void> grant_global_role(db::Tx& tx, std::string_view user_id, std::string_view role,
                               TimePoint now);

struct RefreshToken {
  std::string id;
  std::string user_id;
  std::optional<std::string> org_id;
  std::string family_id;  // the session
  std::string expires_at;
  std::optional<std::string> revoked_at;
  std::optional<std::string> replaced_by;  // set once rotated: the token is spent
};

struct SessionOrigin {
  std::optional<std::string> ip;
  std::optional<std::string> user_agent;
};

Result<std::optional<RefreshToken>> find_refresh_token(db::Tx& tx, std::string_view token_hash);
Result<void> insert_refresh_token(db::Tx& tx, const RefreshToken& token,
                                  std::string_view token_hash, const SessionOrigin& origin,
                                  TimePoint now);
// Marks `id` spent by `replaced_by`; false when it was already spent or revoked (a concurrent
// refresh won the race).
Result<bool> mark_refresh_token_spent(db::Tx& tx, std::string_view id,
                                      std::string_view replaced_by);
// Revokes every live token of the family; returns how many.
Result<std::int64_t> revoke_family(db::Tx& tx, std::string_view family_id, TimePoint now);

struct ApiKey {
  std::string id;
  std::string org_id;
  std::string name;
  std::string prefix;  // the first characters of the key, for recognising it in lists
  std::vector<std::string> permissions;
  std::optional<std::string> created_by;
  std::string created_at;
  std::optional<std::string> last_used_at;
  std::optional<std::string> expires_at;
  std::optional<std::string> revoked_at;
};

// {id, name, prefix, permissions, created_by, created_at, last_used_at, expires_at}
nlohmann::json to_json(const ApiKey& key);

Result<void> insert_api_key(db::Tx& tx, const ApiKey& key, std::string_view key_hash);
// Before any tenant is known: the organization of the key with this hash, nothing else. On
// PostgreSQL through api_key_organization(), the narrow way past row-level security
// (docs/POSTGRESQL.md); the transaction then acts for that organization (Tx::set_scope) and
// finds the key with find_api_key_by_hash.
Result<std::optional<std::string>> api_key_organization(db::Tx& tx, std::string_view key_hash);
// The key with this hash, if the transaction's tenant may see it (its own organization's).
Result<std::optional<ApiKey>> find_api_key_by_hash(db::Tx& tx, std::string_view key_hash);
// Tenant-scoped: the principal's organization's live (unrevoked) keys, newest first.
struct ApiKeyPage {
  std::vector<ApiKey> items;
  std::optional<std::string> next_key;
};
Result<ApiKeyPage> list_api_keys(db::Tx& tx, const Principal& principal,
                                 const http::PageQuery& page);
// Tenant-scoped: revokes a live key of the principal's organization; false when there is none.
Result<bool> revoke_api_key(db::Tx& tx, const Principal& principal, std::string_view key_id,
                            TimePoint now);
// Records last use (batched by the caller).
Result<void> touch_api_key(db::Tx& tx, std::string_view key_id, TimePoint used_at);

}  // namespace atrium::identity::store
