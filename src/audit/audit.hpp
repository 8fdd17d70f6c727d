// The audit writer: one append-only audit_log row per security event or mutation, written in the
// same transaction as the change it records (so there is never a change without its entry, nor
// an entry for a change that rolled back).
//
//   audit::record(tx, audit::Entry::by(*req.principal, "agent.create")
//                         .on("agent", agent.id)
//                         .from(req)
//                         .with({{"name", agent.name}}));
//
// `details` must not carry secrets; as a second line of defence, members whose names mention a
// password, token, secret or key value are dropped before writing. Thread-safe (stateless).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "db/database.hpp"
#include "http/message.hpp"
#include "platform/clock.hpp"
#include "platform/principal.hpp"

namespace atrium::audit {

struct Entry {
  std::optional<std::string> organization_id;  // null for platform events (e.g. a failed login)
  std::string actor_type = "anonymous";        // "user" | "api_key" | "system" | "anonymous"
  std::optional<std::string> actor_id;
  std::string action;  // e.g. "auth.login" (API.md lists the actions)
  std::optional<std::string> target_type;
  std::optional<std::string> target_id;
  std::optional<std::string> ip;
  std::optional<std::string> user_agent;  // first 256 characters
  std::optional<std::string> request_id;
  nlohmann::json details = nlohmann::json::object();
  std::optional<TimePoint> at;  // default: now

  // An entry acted by `principal` in its organization.
  static Entry by(const Principal& principal, std::string action);
  // An entry with an explicit actor (sign-up, login, operators' commands).
  static Entry by(std::string actor_type, std::optional<std::string> actor_id, std::string action);

  Entry& in(std::optional<std::string> org) {
    organization_id = std::move(org);
    return *this;
  }
  Entry& on(std::string type, std::string id) {
    target_type = std::move(type);
    target_id = std::move(id);
    return *this;
  }
  Entry& from(const http::Request& req);  // ip, user agent, request id
  Entry& with(nlohmann::json d) {
    details = std::move(d);
    return *this;
  }
};

// Inserts the entry, with Tx::execute_deferred: on PostgreSQL it travels with the transaction's
// next statement or its COMMIT. Errors are the database's, from here or from that statement or
// commit (the caller's transaction then rolls back).
Result<void> record(db::Tx& tx, const Entry& entry);

// `details` without members that look like secrets (recursively).
nlohmann::json scrub(const nlohmann::json& details);

}  // namespace atrium::audit
