#include "audit/audit.hpp"

#include <algorithm>

#include "platform/ids.hpp"

namespace atrium::audit {
namespace {

constexpr std::size_t kMaxUserAgent = 256;
constexpr std::size_t kMaxDetailsBytes = 16 * 1024;

bool looks_secret(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view word : {"password", "secret", "authorization", "credential"}) {
    if (key.find(word) != std::string::npos) return true;
  }
  // "token", "refresh_token", "key", "api_key" — but not "token_id" or "api_key_id".
  return key == "token" || key == "key" || key.ends_with("_token") || key.ends_with("_key");
}

}  // namespace

Entry Entry::by(const Principal& principal, std::string action) {
  Entry e;
  e.organization_id = principal.org_id;
  e.actor_type = principal.actor_type();
  e.actor_id = principal.actor_id();
  e.action = std::move(action);
  return e;
}

Entry Entry::by(std::string actor_type, std::optional<std::string> actor_id, std::string action) {
  Entry e;
  e.actor_type = std::move(actor_type);
  e.actor_id = std::move(actor_id);
  e.action = std::move(action);
  return e;
}

Entry& Entry::from(const http::Request& req) {
  if (!req.remote_ip.empty()) ip = req.remote_ip;
  if (auto ua = req.headers.get("User-Agent"))
    user_agent = std::string(ua->substr(0, kMaxUserAgent));
  if (!req.request_id.empty()) request_id = req.request_id;
  return *this;
}

nlohmann::json scrub(const nlohmann::json& details) {
  if (details.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : details.items()) {
      if (!looks_secret(k)) out[k] = scrub(v);
    }
    return out;
  }
  if (details.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : details) out.push_back(scrub(v));
    return out;
  }
  return details;
}

Result<void> record(db::Tx& tx, const Entry& entry) {
  std::string details = scrub(entry.details.is_object() ? entry.details : nlohmann::json::object())
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (details.size() > kMaxDetailsBytes) details = R"({"truncated":true})";
  // On PostgreSQL the same INSERT inside insert_audit_entry() (migrations/postgres/0011), whose
  // plan the server connection keeps: sent as SQL it was parsed and planned in every transaction.
  const bool postgres = tx.dialect() == "postgresql";
  auto r = tx.execute_deferred(
      postgres ? "CALL insert_audit_entry($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
               : "INSERT INTO audit_log (id, organization_id, actor_type, actor_id, action,"
                 " target_type, target_id, ip, user_agent, request_id, details, created_at)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      {new_id(), entry.organization_id, entry.actor_type, entry.actor_id, entry.action,
       entry.target_type, entry.target_id, entry.ip, entry.user_agent, entry.request_id, details,
       format_time(entry.at.value_or(std::chrono::system_clock::now()))});
  if (!r) return fail(r.error());
  return {};
}

}  // namespace atrium::audit
