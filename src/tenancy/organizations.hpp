// Organizations and their secrets (API.md, Organizations; API keys, secrets, audit).
//
// - An organization is addressed by its id or `current` (the caller's own). Only the caller's own
//   organization is found, except where API.md lets a `*` holder (the global super admin) cross:
//   listing every organization and reading any one. Those cross-tenant reads are explicit (a
//   separate code path, PostgreSQL's audited cross-tenant read) and audited
//   (`org.cross_tenant_read`). Changing or deleting another organization is 404 even for `*`:
//   a super admin switches into it first (POST /api/auth/switch, itself audited).
// - Creating one makes the caller its TENANT_ADMIN; API keys cannot create organizations.
// - Deleting one removes everything it owns (its audit entries stay) and cuts off every token
//   issued for it (identity's revocations).
// - Secrets are sealed with libsodium secretbox under the data key (platform/secret_box.hpp),
//   bound to "<organization>/<name>"; the value is never returned, logged or audited. The task
//   workers read them (tasks/org_secrets.hpp).
// Every change writes its audit entry (org.create, org.update, org.delete, secret.update) in its
// transaction. Errors: 404 not_found, 409 conflict (a taken slug), 403 for API keys creating.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "db/database.hpp"
#include "http/message.hpp"
#include "http/pagination.hpp"
#include "identity/me_cache.hpp"
#include "identity/revocation.hpp"
#include "platform/clock.hpp"
#include "tenancy/store.hpp"

namespace atrium::tenancy {

// Lower-case ASCII letters and digits in groups joined by single hyphens, 1–48 characters (what
// slugify() makes).
bool valid_slug(std::string_view slug);

// A holder of "*": the global super admin (custom roles and API keys never carry it).
bool crosses_tenants(const Principal& principal);

class OrganizationService {
 public:
  // `data_key`: the 32-byte key sealing secrets (Config::data_key).
  OrganizationService(db::Database& db, identity::Revocations& revocations,
                      identity::MeCache& me_cache, const Clock& clock, std::string data_key);

  Result<OrganizationPage> list(const Principal& caller, const http::PageQuery& page,
                                const http::Request& req);
  // `slug` absent: derived from the name (made unique with a suffix).
  Result<Organization> create(const Principal& caller, const std::string& name,
                              const std::optional<std::string>& slug, const http::Request& req);
  Result<Organization> get(const Principal& caller, std::string_view id, const http::Request& req);
  Result<Organization> update(const Principal& caller, std::string_view id,
                              const std::optional<std::string>& name,
                              const std::optional<std::string>& slug, const http::Request& req);
  Result<void> remove(const Principal& caller, std::string_view id, const http::Request& req);
  Result<void> put_secret(const Principal& caller, std::string_view id, std::string_view name,
                          std::string_view value, const http::Request& req);

  // The caller's own organization for `id` ("current" or its id); nullopt otherwise.
  static std::optional<std::string> own(const Principal& caller, std::string_view id);

 private:
  db::Database& db_;
  identity::Revocations& revocations_;
  identity::MeCache& me_cache_;  // GET /api/me shows names and memberships
  const Clock& clock_;
  const std::string data_key_;
};

}  // namespace atrium::tenancy
