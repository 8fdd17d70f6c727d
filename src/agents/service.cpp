#include "agents/service.hpp"

#include "audit/audit.hpp"
#include "platform/ids.hpp"

namespace atrium::agents {
namespace {

Error no_agent() { return Error::not_found("no such agent"); }

// As http::JsonFields::finish() words a body's field errors.
Error invalid_fields(const std::vector<FieldError>& errors) {
  std::string detail =
      "invalid request body: " + errors.front().field + " " + errors.front().message;
  if (errors.size() > 1) detail += " (and " + std::to_string(errors.size() - 1) + " more)";
  return Error::invalid(std::move(detail), errors);
}

db::TxOptions scope(const Principal& caller, bool read_only = false) {
  return {.tenant = caller.org_id, .read_only = read_only};
}

}  // namespace

AgentService::AgentService(db::Database& db, const Clock& clock, ExecutorCheck check)
    : db_(db), clock_(clock), check_(std::move(check)) {}

Result<AgentPage> AgentService::list(const Principal& caller, const http::PageQuery& page) {
  return db_.transact(scope(caller, true),
                      [&](db::Tx& tx) { return store::list(tx, caller, page); });
}

Result<Agent> AgentService::get(const Principal& caller, std::string_view id) {
  auto found =
      db_.transact(scope(caller, true), [&](db::Tx& tx) { return store::find(tx, caller, id); });
  if (!found) return fail(found.error());
  if (!*found) return fail(no_agent());
  return std::move(**found);
}

Result<Agent> AgentService::create(const Principal& caller, const AgentFields& f,
                                   const http::Request& req) {
  if (!caller.org_id)
    return fail(Error::invalid("select an organization first (POST /api/auth/switch)"));
  const std::string now = format_time(clock_.now());
  Agent a;
  a.id = new_id();
  a.organization_id = *caller.org_id;
  a.name = f.name.value_or("");
  a.description = f.description.value_or("");
  a.executor = f.executor.value_or("");
  a.model = f.model.value_or("");
  a.instructions = f.instructions.value_or("");
  a.config = f.config.value_or(nlohmann::json::object());
  a.created_by = caller.user_id;
  a.created_at = now;
  a.updated_at = now;
  auto r = db_.transact(scope(caller), [&](db::Tx& tx) -> Result<void> {
    if (auto ok = store::insert(tx, caller, a); !ok) return ok;
    return audit::record(
        tx, audit::Entry::by(caller, "agent.create")
                .on("agent", a.id)
                .from(req)
                .with({{"name", a.name}, {"executor", a.executor}, {"model", a.model}}));
  });
  if (!r) return fail(r.error());
  return a;
}

Result<Agent> AgentService::update(const Principal& caller, std::string_view id,
                                   const AgentFields& f, const http::Request& req) {
  return db_.transact(scope(caller), [&](db::Tx& tx) -> Result<Agent> {
    // Read-modify-write: concurrent changes of one agent run one at a time (PostgreSQL), so the
    // executor and config checked below are the ones written.
    if (auto locked = tx.lock("agents:" + std::string(id)); !locked) return fail(locked.error());
    auto found = store::find(tx, caller, id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_agent());
    Agent a = std::move(**found);
    nlohmann::json changed = nlohmann::json::array();
    auto apply = [&](const char* name, std::string& field, const std::optional<std::string>& v) {
      if (v && *v != field) {
        field = *v;
        changed.push_back(name);
      }
    };
    apply("name", a.name, f.name);
    apply("description", a.description, f.description);
    apply("executor", a.executor, f.executor);
    apply("model", a.model, f.model);
    apply("instructions", a.instructions, f.instructions);
    if (f.config && *f.config != a.config) {
      a.config = *f.config;
      changed.push_back("config");
    }
    if (changed.empty()) return a;  // nothing to write, nothing to audit
    if (f.executor || f.config) {
      if (auto errors = check_(a.executor, a.config); !errors.empty())
        return fail(invalid_fields(errors));
    }
    a.updated_at = format_time(clock_.now());
    auto done = store::update(tx, caller, a);
    if (!done) return fail(done.error());
    if (!*done) return fail(no_agent());
    auto audited = audit::record(tx, audit::Entry::by(caller, "agent.update")
                                         .on("agent", a.id)
                                         .from(req)
                                         .with({{"changed", changed}}));
    if (!audited) return fail(audited.error());
    return a;
  });
}

Result<void> AgentService::remove(const Principal& caller, std::string_view id,
                                  const http::Request& req) {
  return db_.transact(scope(caller), [&](db::Tx& tx) -> Result<void> {
    auto found = store::find(tx, caller, id);
    if (!found) return fail(found.error());
    if (!*found) return fail(no_agent());
    auto done = store::remove(tx, caller, id);
    if (!done) return fail(done.error());
    if (!*done) return fail(no_agent());
    return audit::record(tx, audit::Entry::by(caller, "agent.delete")
                                 .on("agent", std::string(id))
                                 .from(req)
                                 .with({{"name", (*found)->name}}));
  });
}

}  // namespace atrium::agents
