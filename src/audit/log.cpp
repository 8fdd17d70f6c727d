#include "audit/log.hpp"

#include <map>
#include <set>

#include "platform/ids.hpp"

namespace atrium::audit {
namespace {

using http::Access;
using http::Execution;
using http::Method;
using http::Request;
using http::Response;

constexpr std::string_view kColumns =
    "id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, request_id,"
    " details, created_at";

std::string placeholders(std::size_t first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

// Emails by id: of the users named, and of the creators of the API keys named.
Result<std::map<std::string, std::string, std::less<>>> actor_emails(
    db::Tx& tx, const std::string& org, const std::set<std::string>& users,
    const std::set<std::string>& keys) {
  std::map<std::string, std::string, std::less<>> out;
  if (!users.empty()) {
    std::vector<db::Value> params(users.begin(), users.end());
    auto rows =
        tx.query("SELECT id, email FROM users WHERE id IN (" + placeholders(1, params.size()) + ")",
                 db::Params(params));
    if (!rows) return fail(rows.error());
    for (const auto& r : *rows) out[r.text(0)] = r.text(1);
  }
  if (!keys.empty()) {
    std::vector<db::Value> params{org};
    params.insert(params.end(), keys.begin(), keys.end());
    auto rows = tx.query(
        "SELECT k.id, u.email FROM api_keys k JOIN users u ON u.id = k.created_by"
        " WHERE k.organization_id = $1 AND k.id IN (" +
            placeholders(2, keys.size()) + ")",
        db::Params(params));
    if (!rows) return fail(rows.error());
    for (const auto& r : *rows) out[r.text(0)] = r.text(1);
  }
  return out;
}

// Whether the query names `name`, decodable or not (query_param cannot tell these apart).
bool in_query(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == name) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

Result<Response> list(AuditLog& log, Request& req) {
  auto page = http::page_query(req, is_uuid);
  if (!page) return fail(page.error());
  std::optional<std::string> action;
  if (in_query(req.query, "action")) {
    action = req.query_param("action");
    if (!action || !valid_action(*action))
      return fail(Error::field("action", "must be an action name such as member.add"));
  }
  auto result = log.list(*req.principal, action, *page);
  if (!result) return fail(result.error());
  return http::page_text_response(
      result->items, result->next_key,
      [](http::JsonText& out, const AuditItem& item) { write_json(out, item); });
}

}  // namespace

void write_json(http::JsonText& out, const AuditItem& item) {
  const db::Row& r = item.row;
  // Keys in nlohmann's (sorted) order, so that the bytes are those of the same object built as
  // nlohmann::json; columns as kColumns.
  out.begin_object();
  out.key("action");
  out.string(r.view(3));
  out.key("actor");
  out.begin_object();
  out.key("email");
  out.string_or_null(item.email);
  out.key("id");
  out.string_or_null(r.optional_view(2));
  out.key("type");
  out.string(r.view(1));
  out.end_object();
  out.key("created_at");
  out.string(r.view(10));
  out.key("details");
  out.object_text(r.view(9));
  out.key("id");
  out.string(r.view(0));
  out.key("ip");
  out.string_or_null(r.optional_view(6));
  out.key("request_id");
  out.string_or_null(r.optional_view(8));
  out.key("target");
  out.begin_object();
  out.key("id");
  out.string_or_null(r.optional_view(5));
  out.key("type");
  out.string_or_null(r.optional_view(4));
  out.end_object();
  out.key("user_agent");
  out.string_or_null(r.optional_view(7));
  out.end_object();
}

bool valid_action(std::string_view action) {
  if (action.empty() || action.size() > 64 || action.front() == '.' || action.back() == '.')
    return false;
  char previous = 0;
  for (char c : action) {
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || c == '.';
    if (!ok || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

Result<AuditPage> AuditLog::list(const Principal& caller, const std::optional<std::string>& action,
                                 const http::PageQuery& page) {
  if (!caller.org_id) return AuditPage{};
  const std::string org = *caller.org_id;
  return db_.transact({.tenant = org, .read_only = true}, [&](db::Tx& tx) -> Result<AuditPage> {
    std::string sql = "SELECT ";
    sql += kColumns;
    sql += " FROM audit_log WHERE organization_id = $1";
    std::vector<db::Value> params{org};
    if (action) {
      params.emplace_back(*action);
      sql += " AND action = $" + std::to_string(params.size());
    }
    if (page.after) {
      params.emplace_back(*page.after);
      sql += " AND id < $" + std::to_string(params.size());
    }
    params.emplace_back(static_cast<std::int64_t>(page.limit) + 1);
    sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
    auto rows = tx.query(sql, db::Params(params));
    if (!rows) return fail(rows.error());

    std::size_t n = std::min(rows->size(), page.limit);
    std::set<std::string> users, keys;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& r = (*rows)[i];
      if (r.is_null(2) || !is_uuid(r.text(2))) continue;
      if (r.text(1) == "user") users.insert(r.text(2));
      if (r.text(1) == "api_key") keys.insert(r.text(2));
    }
    auto emails = actor_emails(tx, org, users, keys);
    if (!emails) return fail(emails.error());

    AuditPage out;
    out.items.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto row = (*rows)[i];
      const auto actor_id = row.optional_view(2);
      const auto email = actor_id ? emails->find(*actor_id) : emails->end();
      out.items.push_back(AuditItem{std::move(row), email != emails->end()
                                                        ? std::optional<std::string>(email->second)
                                                        : std::nullopt});
    }
    if (rows->size() > page.limit) out.next_key = (*rows)[page.limit - 1].text(0);
    return out;
  });
}

void add_routes(http::Router& router, AuditLog& log) {
  AuditLog& l = log;
  router.add({Method::kGet, "/api/audit", Access::permission("audit:read"),
              [&l](Request& r) { return list(l, r); }, Execution::kBlocking});
}

}  // namespace atrium::audit
