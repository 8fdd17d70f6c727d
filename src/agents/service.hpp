// Agents (API.md, Agents): the rules above the store. Every change writes its audit entry
// (agent.create, agent.update, agent.delete) in the transaction that makes it.
//
// Errors: kNotFound for a missing agent or another tenant's (the same answer); kInvalidRequest
// when the caller has no organization to create in. Input is validated by the routes, which
// know the field names. Thread-safe.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agents/store.hpp"
#include "db/database.hpp"
#include "http/message.hpp"
#include "platform/clock.hpp"

namespace atrium::agents {

// Checks an executor name and an agent's config for it: empty when both are acceptable, else one
// error per offending field ("executor", "config", "config.base_url", …). The executors are the
// task module's; app/ wires this to them, so agents never offer an executor no worker runs.
using ExecutorCheck =
    std::function<std::vector<FieldError>(std::string_view executor, const nlohmann::json& config)>;

// A new agent's fields, or for an update the fields to change (absent = unchanged).
struct AgentFields {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> executor;
  std::optional<std::string> model;
  std::optional<std::string> instructions;
  std::optional<nlohmann::json> config;

  bool empty() const {
    return !name && !description && !executor && !model && !instructions && !config;
  }
};

class AgentService {
 public:
  AgentService(db::Database& db, const Clock& clock, ExecutorCheck check);

  const ExecutorCheck& check() const { return check_; }

  Result<AgentPage> list(const Principal& caller, const http::PageQuery& page);
  Result<Agent> get(const Principal& caller, std::string_view id);
  // `fields` validated, name and executor present.
  Result<Agent> create(const Principal& caller, const AgentFields& fields,
                       const http::Request& req);
  // Applies the present fields, validated for shape. The executor and config the agent would
  // have are checked (ExecutorCheck) in the transaction that writes them: 400 with field errors.
  Result<Agent> update(const Principal& caller, std::string_view id, const AgentFields& fields,
                       const http::Request& req);
  Result<void> remove(const Principal& caller, std::string_view id, const http::Request& req);

 private:
  db::Database& db_;
  const Clock& clock_;
  ExecutorCheck check_;
};

}  // namespace atrium::agents
