#include "support/tenants.hpp"

#include <stdexcept>

#include "platform/clock.hpp"
#include "platform/ids.hpp"

namespace atrium::testing {
namespace {

// As the tenant itself: PostgreSQL's row-level security admits an organization's rows only then.
void exec(db::Database& db, const std::string& tenant, std::string_view sql,
          std::initializer_list<db::Value> params) {
  auto r = db.transact({.tenant = tenant, .read_only = false}, [&](db::Tx& tx) -> Result<void> {
    auto n = tx.execute(sql, params);
    if (!n) return fail(n.error());
    return {};
  });
  if (!r) throw std::runtime_error("test fixture insert failed: " + r.error().detail);
}

}  // namespace

std::string add_organization(db::Database& db, const std::string& name) {
  const std::string id = new_id();
  const std::string now = format_time(std::chrono::system_clock::now());
  exec(db, id,
       "INSERT INTO organizations (id, name, slug, created_at, updated_at) "
       "VALUES ($1, $2, $3, $4, $4)",
       {id, name, name + "-" + id.substr(id.size() - 12), now});
  return id;
}

std::string add_agent(db::Database& db, const std::string& org, const std::string& executor,
                      const std::string& config_json, const std::string& model,
                      const std::string& instructions) {
  const std::string id = new_id();
  const std::string now = format_time(std::chrono::system_clock::now());
  exec(db, org,
       "INSERT INTO agents (id, organization_id, name, executor, model, instructions, config, "
       "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
       {id, org, executor + "-agent", executor, model, instructions, config_json, now});
  return id;
}

Principal member_of(const std::string& org, std::vector<std::string> permissions) {
  Principal p;
  p.user_id = new_id();
  p.email = "member@example.com";
  p.org_id = org;
  p.permissions = std::move(permissions);
  return p;
}

}  // namespace atrium::testing
