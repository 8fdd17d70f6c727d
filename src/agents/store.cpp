#include "agents/store.hpp"

#include <algorithm>

#include "platform/ids.hpp"

namespace atrium::agents {
namespace {

constexpr std::string_view kColumns =
    "id, organization_id, name, description, executor, model, instructions, config, created_by,"
    " created_at, updated_at";

constexpr std::string_view kColumnNames[] = {
    "id",           "organization_id", "name",       "description", "executor",  "model",
    "instructions", "config",          "created_by", "created_at",  "updated_at"};

Agent read(const db::Row& r, std::size_t first = 0) {
  Agent a;
  a.id = r.text(first);
  a.organization_id = r.text(first + 1);
  a.name = r.text(first + 2);
  a.description = r.text(first + 3);
  a.executor = r.text(first + 4);
  a.model = r.text(first + 5);
  a.instructions = r.text(first + 6);
  const std::string_view config = r.view(first + 7);
  // Most agents have no configuration: no parser for that.
  if (config != "{}") a.config = nlohmann::json::parse(config, nullptr, false);
  if (!a.config.is_object()) a.config = nlohmann::json::object();
  a.created_by = r.optional_text(first + 8);
  a.created_at = r.text(first + 9);
  a.updated_at = r.text(first + 10);
  return a;
}

std::string select(std::string_view where) {
  std::string s = "SELECT ";
  s += kColumns;
  s += " FROM agents WHERE organization_id = $1";
  s += where;
  return s;
}

}  // namespace

nlohmann::json to_json(const Agent& a) {
  // Built member by member: an initializer list copies every value twice more, and a page of 50
  // agents is serialised on every list request.
  nlohmann::json out(nlohmann::json::value_t::object);
  auto& o = out.get_ref<nlohmann::json::object_t&>();
  o.emplace("id", a.id);
  o.emplace("name", a.name);
  o.emplace("description", a.description);
  o.emplace("executor", a.executor);
  o.emplace("model", a.model);
  o.emplace("instructions", a.instructions);
  o.emplace("config", a.config);
  o.emplace("created_by", a.created_by ? nlohmann::json(*a.created_by) : nlohmann::json(nullptr));
  o.emplace("created_at", a.created_at);
  o.emplace("updated_at", a.updated_at);
  return out;
}

void write_json(http::JsonText& out, const AgentRow& agent) {
  const db::Row& r = agent.row;
  // Keys in nlohmann's (sorted) order, so that the bytes are to_json()'s; columns as kColumns.
  out.begin_object();
  out.key("config");
  out.object_text(r.view(7));
  out.key("created_at");
  out.string(r.view(9));
  out.key("created_by");
  if (const auto created_by = r.optional_view(8))
    out.string(*created_by);
  else
    out.null();
  out.key("description");
  out.string(r.view(3));
  out.key("executor");
  out.string(r.view(4));
  out.key("id");
  out.string(r.view(0));
  out.key("instructions");
  out.string(r.view(6));
  out.key("model");
  out.string(r.view(5));
  out.key("name");
  out.string(r.view(2));
  out.key("updated_at");
  out.string(r.view(10));
  out.end_object();
}

namespace store {

Result<AgentPage> list(db::Tx& tx, const Principal& principal, const http::PageQuery& page) {
  if (!principal.org_id) return AgentPage{};
  const auto limit = static_cast<std::int64_t>(page.limit) + 1;
  auto rows = page.after
                  ? tx.query(select(" AND id < $2 ORDER BY id DESC LIMIT $3"),
                             {*principal.org_id, *page.after, limit})
                  : tx.query(select(" ORDER BY id DESC LIMIT $2"), {*principal.org_id, limit});
  if (!rows) return fail(rows.error());
  AgentPage out;
  out.items.reserve(std::min(rows->size(), page.limit));
  for (auto row : *rows) {
    if (out.items.size() == page.limit) {
      out.next_key = out.items.back().row.text(0);
      break;
    }
    out.items.push_back(AgentRow{std::move(row)});
  }
  return out;
}

Result<std::optional<Agent>> find(db::Tx& tx, const Principal& principal, std::string_view id) {
  if (!principal.org_id || !is_uuid(id)) return std::optional<Agent>();
  auto row = tx.query_one(select(" AND id = $2"), {*principal.org_id, id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Agent>();
  return std::optional<Agent>(read(**row));
}

std::string columns(std::string_view alias) {
  std::string out;
  for (std::string_view name : kColumnNames) {
    if (!out.empty()) out += ", ";
    out += alias;
    out += '.';
    out += name;
  }
  return out;
}

Agent read_columns(const db::Row& row, std::size_t first) { return read(row, first); }

Result<std::optional<Agent>> find_of_task(db::Tx& tx, const Principal& principal,
                                          std::string_view task_id) {
  if (!principal.org_id || !is_uuid(task_id)) return std::optional<Agent>();
  auto row = tx.query_one(
      select(
          " AND id = (SELECT t.agent_id FROM tasks t WHERE t.organization_id = $1 AND t.id = $2)"),
      {*principal.org_id, task_id});
  if (!row) return fail(row.error());
  if (!*row) return std::optional<Agent>();
  return std::optional<Agent>(read(**row));
}

Result<void> insert(db::Tx& tx, const Principal& principal, const Agent& a) {
  if (!principal.org_id || a.organization_id != *principal.org_id)
    return fail(Error::not_found("no such organization"));
  auto r = tx.execute(
      "INSERT INTO agents (id, organization_id, name, description, executor, model, instructions,"
      " config, created_by, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {a.id, a.organization_id, a.name, a.description, a.executor, a.model, a.instructions,
       a.config.dump(), a.created_by, a.created_at, a.updated_at});
  if (!r) return fail(r.error());
  return {};
}

Result<bool> update(db::Tx& tx, const Principal& principal, const Agent& a) {
  if (!principal.org_id || !is_uuid(a.id)) return false;
  auto r = tx.execute(
      "UPDATE agents SET name = $1, description = $2, executor = $3, model = $4,"
      " instructions = $5, config = $6, updated_at = $7 WHERE organization_id = $8 AND id = $9",
      {a.name, a.description, a.executor, a.model, a.instructions, a.config.dump(), a.updated_at,
       *principal.org_id, a.id});
  if (!r) return fail(r.error());
  return *r == 1;
}

Result<bool> remove(db::Tx& tx, const Principal& principal, std::string_view id) {
  if (!principal.org_id || !is_uuid(id)) return false;
  auto r = tx.execute("DELETE FROM agents WHERE organization_id = $1 AND id = $2",
                      {*principal.org_id, id});
  if (!r) return fail(r.error());
  return *r == 1;
}

}  // namespace store
}  // namespace atrium::agents
