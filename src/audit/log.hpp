// Reading the audit log (API.md: GET /api/audit): the caller's organization's entries, newest
// first, optionally one action. Each entry is answered as
//   {id, action, actor: {type, id, email}, target: {type, id}, ip, user_agent, request_id,
//    details, created_at}
// where actor.email is the acting user's, or for an API key its creator's (null otherwise).
// A principal without an organization sees no entries. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/pagination.hpp"
#include "http/router.hpp"
#include "platform/principal.hpp"

namespace atrium::audit {

// An entry of a page: its row as the log read it, and its actor's email.
struct AuditItem {
  db::Row row;
  std::optional<std::string> email;
};

// The entry's object, written straight into `out`.
void write_json(http::JsonText& out, const AuditItem& item);

struct AuditPage {
  std::vector<AuditItem> items;
  std::optional<std::string> next_key;
};

// A well-formed action name: dot-separated lower-case words ("member.add"), at most 64.
bool valid_action(std::string_view action);

class AuditLog {
 public:
  explicit AuditLog(db::Database& db) : db_(db) {}

  Result<AuditPage> list(const Principal& caller, const std::optional<std::string>& action,
                         const http::PageQuery& page);

 private:
  db::Database& db_;
};

//   GET /api/audit   audit:read   ?action=&limit=&cursor= → {items, next_cursor}
void add_routes(http::Router& router, AuditLog& log);

}  // namespace atrium::audit
