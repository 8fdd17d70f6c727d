// Agents in the database (API.md, Agents). Every function takes the Principal first and sees
// only its organization's rows: another tenant's agent is simply not found, like a missing one.
// Functions run inside the caller's transaction; errors are the database's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/pagination.hpp"
#include "platform/principal.hpp"

namespace atrium::agents {

struct Agent {
  std::string id;
  std::string organization_id;
  std::string name;
  std::string description;
  std::string executor;
  std::string model;
  std::string instructions;
  nlohmann::json config = nlohmann::json::object();
  std::optional<std::string> created_by;
  std::string created_at;
  std::string updated_at;
};

// {id, name, description, executor, model, instructions, config, created_by, created_at,
// updated_at}
nlohmann::json to_json(const Agent& agent);
// An agent of a list page: its row as the store read it, written by write_json() without a copy
// of any field.
struct AgentRow {
  db::Row row;
};

// The object to_json() makes, for the same agent, written straight into `out`: the same bytes.
void write_json(http::JsonText& out, const AgentRow& agent);

struct AgentPage {
  std::vector<AgentRow> items;
  std::optional<std::string> next_key;  // the last item's id when another page follows
};

namespace store {

// Newest first; `page.after` continues after that id.
Result<AgentPage> list(db::Tx& tx, const Principal& principal, const http::PageQuery& page);
Result<std::optional<Agent>> find(db::Tx& tx, const Principal& principal, std::string_view id);
// The agent the task `task_id` of the principal's organization runs (for the task workers, who
// know the task, not its agent); nullopt when there is no such task.
Result<std::optional<Agent>> find_of_task(db::Tx& tx, const Principal& principal,
                                          std::string_view task_id);
// For another store's statement that returns an agent beside its own row (a task's claim): the
// agent columns, each prefixed with `alias.`, and the agent read from `row`'s columns `first`
// on, in that order.
std::string columns(std::string_view alias);
Agent read_columns(const db::Row& row, std::size_t first);
// `agent.organization_id` must be the principal's organization.
Result<void> insert(db::Tx& tx, const Principal& principal, const Agent& agent);
// Writes every editable field of `agent`; false when no such agent in the organization.
Result<bool> update(db::Tx& tx, const Principal& principal, const Agent& agent);
// False when no such agent in the organization. Its tasks go with it (ON DELETE CASCADE).
Result<bool> remove(db::Tx& tx, const Principal& principal, std::string_view id);

}  // namespace store
}  // namespace atrium::agents
