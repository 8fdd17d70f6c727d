#include "identity/service.hpp"

#include "access/permissions.hpp"
#include "audit/audit.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::identity {
namespace {

constexpr std::size_t kRefreshSecretBytes = 32;  // 256 bits
constexpr std::size_t kMaxRefreshTokenChars = 256;

Error invalid_credentials() {
  return Error{Code::kInvalidCredentials, "wrong email or password", {}, 0};
}
Error bad_refresh_token() { return Error::unauthenticated("invalid or expired refresh token"); }

store::SessionOrigin origin_of(const http::Request& req) {
  store::SessionOrigin o;
  if (!req.remote_ip.empty()) o.ip = req.remote_ip;
  if (auto ua = req.headers.get("User-Agent")) o.user_agent = std::string(ua->substr(0, 256));
  return o;
}

std::int64_t seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

nlohmann::json org_json(const std::optional<tenancy::Organization>& org) {
  return org ? tenancy::to_json(*org) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json Bundle::to_json() const {
  return {{"access_token", access_token},
          {"token_type", "Bearer"},
          {"expires_in", kAccessTokenTtl.count()},
          {"refresh_token", refresh_token},
          {"user", store::to_json(user)},
          {"organization", org_json(organization)},
          {"permissions", permissions}};
}

Service::Service(db::Database& db, const KeyRing& keys, PasswordHasher& passwords,
                 LoginThrottle& throttle, Revocations& revocations, MeCache& me_cache,
                 const Clock& clock)
    : db_(db),
      keys_(keys),
      passwords_(passwords),
      throttle_(throttle),
      revocations_(revocations),
      me_cache_(me_cache),
      clock_(clock) {}

Result<Bundle> Service::issue(db::Tx& tx, const store::User& user,
                              const std::optional<tenancy::Organization>& org,
                              std::string family_id, const store::SessionOrigin& origin) {
  const TimePoint now = clock_.now();
  auto permissions = tenancy::permissions_of(
      tx, user.id, org ? std::optional<std::string>(org->id) : std::nullopt);
  if (!permissions) return fail(permissions.error());

  Bundle b;
  b.user = user;
  b.organization = org;
  b.permissions = std::move(*permissions);
  b.session_id = family_id;
  b.refresh_token = random_token(kRefreshSecretBytes);
  store::RefreshToken row{new_id(),
                          user.id,
                          org ? std::optional<std::string>(org->id) : std::nullopt,
                          family_id,
                          format_time(now + kRefreshTokenTtl),
                          std::nullopt,
                          std::nullopt};
  if (auto ok = store::insert_refresh_token(tx, row, hash_token(b.refresh_token), origin, now); !ok)
    return fail(ok.error());
  b.refresh_token_id = row.id;

  AccessClaims claims;
  claims.sub = user.id;
  claims.email = user.email;
  claims.org_id = row.org_id;
  claims.permissions = b.permissions;
  claims.iat = seconds(now);
  claims.exp = claims.iat + kAccessTokenTtl.count();
  claims.jti = make_jti(now);
  claims.sid = std::move(family_id);
  auto token = sign_access_token(keys_, claims);
  if (!token) return fail(token.error());
  b.access_token = std::move(*token);
  return b;
}

Result<Bundle> Service::open_session(db::Tx& tx, const store::User& user,
                                     const std::optional<tenancy::Organization>& org,
                                     const http::Request& req) {
  return issue(tx, user, org, new_id(), origin_of(req));
}

Result<std::optional<tenancy::Organization>> Service::pick_organization(
    db::Tx& tx, const store::User& user, const std::optional<std::string>& wanted) {
  using Org = std::optional<tenancy::Organization>;
  // The rest of the transaction acts for the organization picked (row-level security on
  // PostgreSQL); the user's own memberships are readable in every organization meanwhile.
  if (!wanted) {
    if (auto s = tx.set_scope(std::nullopt, user.id); !s) return fail(s.error());
    auto memberships = tenancy::memberships_of_user(tx, user.id);
    if (!memberships) return fail(memberships.error());
    if (memberships->empty()) return Org();
    if (auto s = tx.set_scope(memberships->front().organization.id, user.id); !s)
      return fail(s.error());
    return Org(memberships->front().organization);
  }
  if (auto s = tx.set_scope(*wanted, user.id); !s) return fail(s.error());
  auto org = is_uuid(*wanted) ? tenancy::find_organization(tx, *wanted) : Result<Org>(Org());
  if (!org) return fail(org.error());
  if (!*org) return fail(Error::not_found("no such organization"));
  auto member = tenancy::is_member(tx, user.id, (*org)->id);
  if (!member) return fail(member.error());
  if (*member) return org;
  // A global super admin may act in any organization.
  auto global = tenancy::permissions_of(tx, user.id, std::nullopt);
  if (!global) return fail(global.error());
  if (access::allows(*global, "*")) return org;
  return fail(Error::not_found("no such organization"));
}

Result<void> Service::revoke_session(db::Tx& tx, const std::string& family_id, Revocation& out) {
  auto revoked = store::revoke_family(tx, family_id, clock_.now());
  if (!revoked) return fail(revoked.error());
  out = revocations_.session(family_id);
  return revocations_.stage(tx, out);
}

Result<Bundle> Service::signup(const SignupInput& in, const http::Request& req) {
  auto hash = passwords_.hash(in.password);
  if (!hash) return fail(hash.error());
  const TimePoint now = clock_.now();
  const std::string org_id = new_id();
  return db_.transact({.tenant = org_id}, [&](db::Tx& tx) -> Result<Bundle> {
    auto user = store::create_user(tx, in.email, in.name, *hash, now);
    if (!user) return fail(user.error());
    auto org = tenancy::create_organization(tx, org_id, in.organization_name, now);
    if (!org) return fail(org.error());
    if (auto ok = tenancy::add_member(tx, org->id, user->id, access::kTenantAdmin, now); !ok)
      return fail(ok.error());
    auto bundle = open_session(tx, *user, *org, req);
    if (!bundle) return fail(bundle.error());
    auto entry = audit::Entry::by("user", user->id, "auth.signup")
                     .in(org->id)
                     .on("user", user->id)
                     .from(req)
                     .with({{"email", user->email}, {"session_id", bundle->session_id}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    auto created = audit::Entry::by("user", user->id, "org.create")
                       .in(org->id)
                       .on("organization", org->id)
                       .from(req)
                       .with({{"name", org->name}, {"slug", org->slug}});
    if (auto ok = audit::record(tx, created); !ok) return fail(ok.error());
    return bundle;
  });
}

Result<Bundle> Service::login(const LoginInput& in, const http::Request& req) {
  if (auto wait = throttle_.blocked(in.email, req.remote_ip)) {
    log::warn("login throttled", {{"email", in.email},
                                  {"ip", req.remote_ip},
                                  {"retry_after", *wait},
                                  {"request_id", req.request_id}});
    return fail(
        Error{Code::kRateLimited, "too many failed sign-in attempts; retry later", {}, *wait});
  }

  auto found = db_.transact({.read_only = true},
                            [&](db::Tx& tx) { return store::find_user_by_email(tx, in.email); });
  if (!found) return fail(found.error());
  const std::optional<store::User>& user = *found;
  // Unknown, disabled and password-less accounts verify against the dummy: same cost, same answer.
  const bool usable = user && !user->disabled && user->password_hash;
  auto check = passwords_.verify(in.password, usable ? user->password_hash : std::nullopt);
  if (!check) return fail(check.error());

  if (!check->ok) {
    throttle_.failed(in.email, req.remote_ip);
    log::warn("login failed",
              {{"email", in.email}, {"ip", req.remote_ip}, {"request_id", req.request_id}});
    auto r = db_.transact({}, [&](db::Tx& tx) {
      auto entry = audit::Entry::by(user ? "user" : "anonymous",
                                    user ? std::optional<std::string>(user->id) : std::nullopt,
                                    "auth.login_failed")
                       .from(req)
                       .with({{"email", in.email}});
      if (user) entry.on("user", user->id);
      return audit::record(tx, entry);
    });
    if (!r) return fail(r.error());
    return fail(invalid_credentials());
  }
  throttle_.succeeded(in.email);

  std::optional<std::string> rehash;
  if (check->needs_rehash) {
    // A failure here only postpones the upgrade to the next login.
    if (auto h = passwords_.hash(in.password)) rehash = std::move(*h);
  }
  return db_.transact({}, [&](db::Tx& tx) -> Result<Bundle> {
    if (rehash) {
      if (auto ok = store::set_password_hash(tx, user->id, *rehash, clock_.now()); !ok)
        return fail(ok.error());
    }
    auto org = pick_organization(tx, *user, in.organization_id);
    if (!org) return fail(org.error());
    auto bundle = open_session(tx, *user, *org, req);
    if (!bundle) return fail(bundle.error());
    auto entry = audit::Entry::by("user", user->id, "auth.login")
                     .in(*org ? std::optional<std::string>((*org)->id) : std::nullopt)
                     .on("user", user->id)
                     .from(req)
                     .with({{"session_id", bundle->session_id}, {"rehashed", rehash.has_value()}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return bundle;
  });
}

Result<Bundle> Service::refresh(std::string_view token, const http::Request& req) {
  if (token.empty() || token.size() > kMaxRefreshTokenChars) return fail(bad_refresh_token());
  const std::string token_hash = hash_token(token);
  std::optional<Revocation> revoked;
  std::optional<Error> denied;

  auto outcome = db_.transact({}, [&](db::Tx& tx) -> Result<std::optional<Bundle>> {
    revoked.reset();
    denied.reset();
    const TimePoint now = clock_.now();
    auto found = store::find_refresh_token(tx, token_hash);
    if (!found) return fail(found.error());
    if (!*found || (*found)->revoked_at) {
      denied = bad_refresh_token();
      return std::optional<Bundle>();
    }
    const store::RefreshToken& t = **found;
    if (auto s = tx.set_scope(t.org_id, t.user_id); !s) return fail(s.error());
    // Ends the session for good, keeping the refusal (the caller commits, then answers 401).
    auto end_session = [&](const char* why) -> Result<std::optional<Bundle>> {
      Revocation r;
      if (auto ok = revoke_session(tx, t.family_id, r); !ok) return fail(ok.error());
      revoked = r;
      denied = bad_refresh_token();
      log::warn("session ended at refresh", {{"reason", why},
                                             {"session_id", t.family_id},
                                             {"user", t.user_id},
                                             {"request_id", req.request_id}});
      return std::optional<Bundle>();
    };

    if (t.replaced_by) {
      // A spent token came back: whoever holds the family's tokens may be an attacker.
      auto r = end_session("refresh token reused");
      if (!r) return r;
      auto entry = audit::Entry::by("user", t.user_id, "auth.refresh_reuse")
                       .in(t.org_id)
                       .on("session", t.family_id)
                       .from(req);
      if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
      return r;
    }
    auto expires = parse_time(t.expires_at);
    if (!expires || *expires <= now) {
      denied = bad_refresh_token();
      return std::optional<Bundle>();
    }
    auto user = store::find_user(tx, t.user_id);
    if (!user) return fail(user.error());
    if (!*user || (*user)->disabled) return end_session("user gone or disabled");

    std::optional<tenancy::Organization> org;
    if (t.org_id) {
      auto o = tenancy::find_organization(tx, *t.org_id);
      if (!o) return fail(o.error());
      if (!*o) return end_session("organization gone");
      auto member = pick_organization(tx, **user, t.org_id);
      if (!member) {
        if (member.error().code != Code::kNotFound) return fail(member.error());
        return end_session("no longer a member");
      }
      org = **o;
    }

    auto bundle = issue(tx, **user, org, t.family_id, origin_of(req));
    if (!bundle) return fail(bundle.error());
    auto spent = store::mark_refresh_token_spent(tx, t.id, bundle->refresh_token_id);
    if (!spent) return fail(spent.error());
    if (!*spent) return end_session("concurrent refresh");
    return std::optional<Bundle>(std::move(*bundle));
  });
  if (!outcome) return fail(outcome.error());
  if (revoked) revocations_.announce(*revoked);
  if (!*outcome) return fail(denied.value_or(bad_refresh_token()));
  return std::move(**outcome);
}

Result<void> Service::logout(std::string_view token, const http::Request& req) {
  if (token.empty() || token.size() > kMaxRefreshTokenChars) return {};
  const std::string token_hash = hash_token(token);
  std::optional<Revocation> revoked;
  auto r = db_.transact({}, [&](db::Tx& tx) -> Result<void> {
    revoked.reset();
    auto found = store::find_refresh_token(tx, token_hash);
    if (!found) return fail(found.error());
    if (!*found || (*found)->revoked_at) return {};  // nothing left to end: still 204
    const auto& t = **found;
    if (auto s = tx.set_scope(t.org_id, t.user_id); !s) return s;
    Revocation rev;
    if (auto ok = revoke_session(tx, t.family_id, rev); !ok) return ok;
    revoked = rev;
    return audit::record(tx, audit::Entry::by("user", t.user_id, "auth.logout")
                                 .in(t.org_id)
                                 .on("session", t.family_id)
                                 .from(req));
  });
  if (!r) return r;
  if (revoked) revocations_.announce(*revoked);
  return {};
}

Result<Bundle> Service::switch_organization(const Principal& caller, std::string_view org_id,
                                            const http::Request& req) {
  if (caller.kind != Principal::Kind::kUser)
    return fail(Error{Code::kPermissionDenied, "an API key belongs to one organization", {}, 0});
  return db_.transact(
      {.tenant = std::string(org_id), .user = caller.user_id}, [&](db::Tx& tx) -> Result<Bundle> {
        auto user = store::find_user(tx, caller.user_id);
        if (!user) return fail(user.error());
        if (!*user || (*user)->disabled)
          return fail(Error::unauthenticated("account not available"));
        auto org = pick_organization(tx, **user, std::string(org_id));
        if (!org) return fail(org.error());
        auto bundle = open_session(tx, **user, *org, req);
        if (!bundle) return fail(bundle.error());
        auto entry =
            audit::Entry::by("user", caller.user_id, "auth.switch")
                .in((*org)->id)
                .on("organization", (*org)->id)
                .from(req)
                .with({{"session_id", bundle->session_id}, {"from_session_id", caller.session_id}});
        if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
        return bundle;
      });
}

Result<std::string> Service::me(const Principal& caller) {
  if (auto cached = me_cache_.render(caller)) return std::move(*cached);
  // A user reads their memberships in every organization; a key is of its organization only.
  std::optional<std::string> member;
  if (caller.kind == Principal::Kind::kUser) member = caller.user_id;
  auto view = db_.transact(
      {.tenant = caller.org_id, .user = member, .read_only = true},
      [&](db::Tx& tx) -> Result<MeCache::View> {
        auto user = store::find_user(tx, caller.user_id);
        if (!user) return fail(user.error());
        if (!*user || (*user)->disabled)
          return fail(Error::unauthenticated("account not available"));
        auto org = tenancy::current_organization(tx, caller);
        if (!org) return fail(org.error());
        nlohmann::json memberships = nlohmann::json::array();
        if (caller.kind == Principal::Kind::kApiKey) {
          // A key is a principal of its organization only.
          if (*org)
            memberships.push_back(
                {{"organization", tenancy::to_json(**org)}, {"roles", nlohmann::json::array()}});
        } else {
          auto list = tenancy::memberships_of_user(tx, caller.user_id);
          if (!list) return fail(list.error());
          for (const auto& m : *list)
            memberships.push_back(
                {{"organization", tenancy::to_json(m.organization)}, {"roles", m.roles}});
        }
        // Stored text is checked as UTF-8 on the way in; should a row hold anything else, it
        // reads as U+FFFD rather than failing the request.
        const auto text = [](const nlohmann::json& j) {
          return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        };
        return MeCache::View{text(store::to_json(**user)), text(org_json(*org)), text(memberships)};
      });
  if (!view) return fail(view.error());
  std::string body = MeCache::compose(caller, *view);
  me_cache_.put(caller, std::move(*view));
  return body;
}

Result<Bundle> Service::mint(std::string_view email, const std::optional<std::string>& org_id) {
  return db_.transact({.tenant = org_id}, [&](db::Tx& tx) -> Result<Bundle> {
    auto user = store::find_user_by_email(tx, email);
    if (!user) return fail(user.error());
    if (!*user || (*user)->disabled) return fail(Error::not_found("no such user"));
    auto org = pick_organization(tx, **user, org_id);
    if (!org) return fail(org.error());
    auto bundle = issue(tx, **user, *org, new_id(), {std::nullopt, "atrium token mint"});
    if (!bundle) return fail(bundle.error());
    auto entry = audit::Entry::by("system", std::nullopt, "auth.token_mint")
                     .in(*org ? std::optional<std::string>((*org)->id) : std::nullopt)
                     .on("user", (*user)->id)
                     .with({{"session_id", bundle->session_id}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return bundle;
  });
}

Result<store::User> Service::create_superadmin(std::string_view email, std::string_view password) {
  auto hash = passwords_.hash(password);
  if (!hash) return fail(hash.error());
  const TimePoint now = clock_.now();
  return db_.transact({}, [&](db::Tx& tx) -> Result<store::User> {
    auto existing = store::find_user_by_email(tx, email);
    if (!existing) return fail(existing.error());
    store::User user;
    if (*existing) {
      user = **existing;
      if (auto ok = store::set_password_hash(tx, user.id, *hash, now); !ok) return fail(ok.error());
    } else {
      auto created = store::create_user(tx, email, "", *hash, now);
      if (!created) return fail(created.error());
      user = *created;
    }
    auto granted = store::grant_global_role(tx, user.id, access::kSuperAdmin, now);
    if (!granted && granted.error().code != Code::kConflict) return fail(granted.error());
    auto entry = audit::Entry::by("system", std::nullopt, "admin.create_superadmin")
                     .on("user", user.id)
                     .with({{"email", user.email}, {"existing", existing->has_value()}});
    if (auto ok = audit::record(tx, entry); !ok) return fail(ok.error());
    return user;
  });
}

}  // namespace atrium::identity
