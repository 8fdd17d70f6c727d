#include "identity/api_keys.hpp"

#include <algorithm>

#include "access/permissions.hpp"
#include "audit/audit.hpp"
#include "platform/base64url.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"
#include "tenancy/store.hpp"

namespace atrium::identity {
namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kKeyChars = kApiKeyPrefix.size() + base64url_encoded_size(kSecretBytes);
constexpr std::size_t kShownPrefix = 12;  // "atr_" + 8 characters
constexpr std::chrono::seconds kCacheTtl{30};
constexpr std::size_t kCacheMax = 10000;
constexpr int kLoadAttempts = 3;

Error bad_key() { return Error::unauthenticated("invalid API key"); }

// The concrete permissions both lists allow, by the wildcard rule.
std::vector<std::string> effective(const std::vector<std::string>& granted,
                                   const std::vector<std::string>& creator) {
  std::vector<std::string> out;
  for (const auto& p : access::catalog()) {
    if (p.name.find('*') != std::string_view::npos) continue;
    if (access::allows(granted, p.name) && access::allows(creator, p.name))
      out.emplace_back(p.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool looks_like_api_key(std::string_view text) {
  if (text.size() != kKeyChars || !text.starts_with(kApiKeyPrefix)) return false;
  return base64url_decode(text.substr(kApiKeyPrefix.size())).has_value();
}

ApiKeys::ApiKeys(db::Database& db, Revocations& revocations, const Clock& clock)
    : db_(db), revocations_(revocations), clock_(clock) {
  revocations_.list().on_apply([this](const Revocation& r) { forget(r); });
}

void ApiKeys::forget(const Revocation& r) {
  generation_.fetch_add(1);
  std::unique_lock lock(cache_mu_);
  if (r.kind == Revocation::Kind::kApiKey) {
    std::erase_if(cache_,
                  [&](const auto& e) { return e.second.principal.api_key_id == r.subject; });
  } else if (r.kind != Revocation::Kind::kSession) {
    // A member, user or organization changed: the creators' permissions may have too.
    cache_.clear();
  }
}

Result<ApiKeys::Created> ApiKeys::create(const Principal& caller, std::string name,
                                         std::vector<std::string> permissions,
                                         std::optional<int> expires_in_days,
                                         const http::Request& req) {
  if (caller.kind == Principal::Kind::kApiKey)
    return fail(Error{Code::kPermissionDenied, "API keys cannot create API keys", {}, 0});
  if (!caller.org_id)
    return fail(Error::invalid("select an organization before creating API keys"));
  std::vector<FieldError> unknown;
  for (std::size_t i = 0; i < permissions.size(); ++i) {
    if (!access::is_known_permission(permissions[i]))
      unknown.push_back({"permissions[" + std::to_string(i) + "]", "is not a known permission"});
  }
  if (!unknown.empty())
    return fail(Error::invalid("unknown permission: " + unknown.front().field, unknown));
  for (const auto& p : permissions) {
    if (!access::allows(caller.permissions, p))
      return fail(Error{
          Code::kPrivilegeEscalation, "cannot grant a permission you do not hold: " + p, {}, 0});
  }

  const TimePoint now = clock_.now();
  Created out;
  out.secret = std::string(kApiKeyPrefix) + random_token(kSecretBytes);
  auto& k = out.key;
  k.id = new_id();
  k.org_id = *caller.org_id;
  k.name = std::move(name);
  k.prefix = out.secret.substr(0, kShownPrefix);
  k.permissions = std::move(permissions);
  k.created_by = caller.user_id;
  k.created_at = format_time(now);
  if (expires_in_days) k.expires_at = format_time(now + std::chrono::hours(24) * *expires_in_days);

  auto r = db_.transact({.tenant = caller.org_id}, [&](db::Tx& tx) -> Result<void> {
    if (auto ok = store::insert_api_key(tx, k, hash_token(out.secret)); !ok) return ok;
    return audit::record(tx, audit::Entry::by(caller, "apikey.create")
                                 .on("api_key", k.id)
                                 .from(req)
                                 .with({{"name", k.name},
                                        {"permissions", k.permissions},
                                        {"expires_at", k.expires_at ? nlohmann::json(*k.expires_at)
                                                                    : nlohmann::json(nullptr)}}));
  });
  if (!r) return fail(r.error());
  return out;
}

Result<store::ApiKeyPage> ApiKeys::list(const Principal& caller, const http::PageQuery& page) {
  return db_.transact({.tenant = caller.org_id, .read_only = true},
                      [&](db::Tx& tx) { return store::list_api_keys(tx, caller, page); });
}

Result<void> ApiKeys::revoke(const Principal& caller, std::string_view key_id,
                             const http::Request& req) {
  const Revocation revocation = revocations_.api_key(std::string(key_id));
  auto r = db_.transact({.tenant = caller.org_id}, [&](db::Tx& tx) -> Result<void> {
    auto done = store::revoke_api_key(tx, caller, key_id, clock_.now());
    if (!done) return fail(done.error());
    if (!*done) return fail(Error::not_found("no such API key"));
    if (auto ok = revocations_.stage(tx, revocation); !ok) return ok;
    return audit::record(
        tx, audit::Entry::by(caller, "apikey.revoke").on("api_key", std::string(key_id)).from(req));
  });
  if (!r) return fail(r.error());
  revocations_.announce(revocation);
  return {};
}

Result<ApiKeys::Cached> ApiKeys::load(const std::string& key_hash) {
  return db_.transact({.read_only = true}, [&](db::Tx& tx) -> Result<Cached> {
    // The key names its organization: find that first, then read as that organization.
    auto org_id = store::api_key_organization(tx, key_hash);
    if (!org_id) return fail(org_id.error());
    if (!*org_id) return fail(bad_key());
    if (auto s = tx.set_scope(*org_id, std::nullopt); !s) return fail(s.error());
    auto key = store::find_api_key_by_hash(tx, key_hash);
    if (!key) return fail(key.error());
    if (!*key || (*key)->revoked_at || !(*key)->created_by) return fail(bad_key());
    const auto& k = **key;
    auto creator = store::find_user(tx, *k.created_by);
    if (!creator) return fail(creator.error());
    if (!*creator || (*creator)->disabled) return fail(bad_key());
    auto held = tenancy::permissions_of(tx, (*creator)->id, k.org_id);
    if (!held) return fail(held.error());
    if (held->empty()) return fail(bad_key());  // the creator left the organization

    Cached c;
    c.principal.kind = Principal::Kind::kApiKey;
    c.principal.user_id = (*creator)->id;
    c.principal.api_key_id = k.id;
    c.principal.email = (*creator)->email;
    c.principal.org_id = k.org_id;
    c.principal.permissions = effective(k.permissions, *held);
    c.principal.catalog_grants = access::compile_grants(c.principal.permissions);
    if (k.expires_at) c.expires_at = parse_time(*k.expires_at);
    c.loaded_at = clock_.now();
    return c;
  });
}

Result<Principal> ApiKeys::authenticate(std::string_view key) {
  if (!looks_like_api_key(key)) return fail(bad_key());
  const std::string key_hash = hash_token(key);
  const TimePoint now = clock_.now();

  std::optional<Cached> found;
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(key_hash);
    if (it != cache_.end() && now - it->second.loaded_at < kCacheTtl) found = it->second;
  }
  for (int attempt = 0; !found && attempt < kLoadAttempts; ++attempt) {
    const auto generation = generation_.load();
    auto loaded = load(key_hash);
    if (!loaded) return fail(loaded.error());
    std::unique_lock lock(cache_mu_);
    if (generation_.load() != generation) continue;  // a revocation raced the load: read again
    if (cache_.size() >= kCacheMax) cache_.clear();
    cache_[key_hash] = *loaded;
    found = std::move(*loaded);
  }
  if (!found) return fail(Error::unavailable());
  if (revocations_.list().api_key_revoked(found->principal.api_key_id)) return fail(bad_key());
  if (found->expires_at && now >= *found->expires_at)
    return fail(Error::unauthenticated("API key expired"));
  {
    std::lock_guard lock(usage_mu_);
    usage_[found->principal.api_key_id] = Use{found->principal.org_id, now};
  }
  found->principal.expires_at = found->expires_at;
  return std::move(found->principal);
}

Result<void> ApiKeys::flush_usage() {
  std::map<std::string, Use> pending;
  {
    std::lock_guard lock(usage_mu_);
    pending.swap(usage_);
  }
  if (pending.empty()) return {};
  auto r = db_.transact({}, [&](db::Tx& tx) -> Result<void> {
    for (const auto& [id, use] : pending) {
      if (auto ok = tx.set_scope(use.org_id, std::nullopt); !ok) return ok;
      if (auto ok = store::touch_api_key(tx, id, use.at); !ok) return ok;
    }
    return {};
  });
  if (!r) log::warn("could not record API key use", {{"error", r.error().detail}});
  return r;
}

}  // namespace atrium::identity
