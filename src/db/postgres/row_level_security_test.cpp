// Row-level security, the second wall behind the stores' own organization_id filters
// (migrations/postgres/0001_init.sql, docs/POSTGRESQL.md). Runs on PostgreSQL direct and through
// PgBouncer, as the application's role, against a fresh migrated database per test.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "db/database.hpp"
#include "db/migrations.hpp"
#include "db/postgres/postgres_database.hpp"
#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"

namespace atrium::db {
namespace {

using atrium::testing::Backend;

// A store written the wrong way on purpose: it forgets the organization_id filter that every
// real store applies, so that only row-level security stands between tenants.
class UnfilteredAgentStore {
 public:
  explicit UnfilteredAgentStore(Database& db) : db_(db) {}

  Result<Rows> list(const std::string& tenant) {
    return db_.transact({.tenant = tenant, .read_only = true}, [](Tx& tx) {
      return tx.query("SELECT id, organization_id FROM agents ORDER BY id");
    });
  }
  Result<std::optional<Row>> get(const std::string& tenant, const std::string& id) {
    return db_.transact({.tenant = tenant, .read_only = true}, [&](Tx& tx) {
      return tx.query_one("SELECT id, organization_id FROM agents WHERE id = $1", {id});
    });
  }
  // Writes a row for `org` while acting for `tenant`.
  Result<std::int64_t> insert(const std::string& tenant, const std::string& org,
                              const std::string& id) {
    return db_.transact({.tenant = tenant}, [&](Tx& tx) {
      return tx.execute(
          "INSERT INTO agents (id, organization_id, name, executor, created_at, updated_at)"
          " VALUES ($1, $2, $3, 'echo', $4, $4)",
          {id, org, "agent " + id, format_time(std::chrono::system_clock::now())});
    });
  }
  Result<std::int64_t> rename(const std::string& tenant, const std::string& id) {
    return db_.transact({.tenant = tenant}, [&](Tx& tx) {
      return tx.execute("UPDATE agents SET name = 'renamed' WHERE id = $1", {id});
    });
  }
  Result<std::int64_t> move_to(const std::string& tenant, const std::string& id,
                               const std::string& org) {
    return db_.transact({.tenant = tenant}, [&](Tx& tx) {
      return tx.execute("UPDATE agents SET organization_id = $2 WHERE id = $1", {id, org});
    });
  }
  Result<std::int64_t> remove(const std::string& tenant, const std::string& id) {
    return db_.transact({.tenant = tenant}, [&](Tx& tx) {
      return tx.execute("DELETE FROM agents WHERE id = $1", {id});
    });
  }

 private:
  Database& db_;
};

// Two organizations with a row in every tenant table, a user in each (and one in both), system
// and custom roles, global rows.
struct World {
  std::string a = new_id(), b = new_id();
  std::string alice = new_id();  // member of A and B
  std::string bob = new_id();    // member of B
  std::string root = new_id();   // global super admin
  std::string system_role = new_id(), super_role = new_id();
  std::string role_a = new_id(), role_b = new_id();
  std::string agent_a = new_id(), agent_b = new_id();
  std::string task_a = new_id(), task_b = new_id();
};

class RowLevelSecurity : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    t_ = GetParam().create_migrated();
    const std::string now = format_time(std::chrono::system_clock::now());
    // The owner writes the global rows (as the seed and the admin commands do).
    auto global = owner().transact({}, [&](Tx& tx) -> Result<void> {
      for (const auto& [id, email] :
           {std::pair{w_.alice, "alice@example.com"}, std::pair{w_.bob, "bob@example.com"},
            std::pair{w_.root, "root@example.com"}}) {
        if (auto r = tx.execute("INSERT INTO users (id, email, created_at, updated_at)"
                                " VALUES ($1, $2, $3, $3)",
                                {id, email, now});
            !r)
          return fail(r.error());
      }
      for (const auto& [id, name] :
           {std::pair{w_.system_role, "USER"}, std::pair{w_.super_role, "SUPER_ADMIN"}}) {
        if (auto r = tx.execute("INSERT INTO roles (id, organization_id, name, created_at,"
                                " updated_at) VALUES ($1, NULL, $2, $3, $3)",
                                {id, name, now});
            !r)
          return fail(r.error());
      }
      if (auto r = tx.execute("INSERT INTO user_organization_roles (id, user_id, organization_id,"
                              " role_id, created_at) VALUES ($1, $2, NULL, $3, $4)",
                              {new_id(), w_.root, w_.super_role, now});
          !r)
        return fail(r.error());
      return {};
    });
    ASSERT_TRUE(global) << global.error().detail;

    // The application writes each organization's rows acting for it, as sign-up does.
    auto populate = [&](const std::string& org, const std::string& slug, const std::string& role,
                        const std::string& agent, const std::string& task,
                        std::vector<std::string> members) {
      return app().transact({.tenant = org}, [&](Tx& tx) -> Result<void> {
        const std::vector<std::pair<std::string, std::vector<Value>>> statements = {
            {"INSERT INTO organizations (id, name, slug, created_at, updated_at)"
             " VALUES ($1, $2, $2, $3, $3)",
             {org, slug, now}},
            {"INSERT INTO roles (id, organization_id, name, created_at, updated_at)"
             " VALUES ($1, $2, 'CUSTOM', $3, $3)",
             {role, org, now}},
            {"INSERT INTO agents (id, organization_id, name, executor, created_at, updated_at)"
             " VALUES ($1, $2, 'agent', 'echo', $3, $3)",
             {agent, org, now}},
            {"INSERT INTO tasks (id, organization_id, agent_id, status, created_at)"
             " VALUES ($1, $2, $3, 'queued', $4)",
             {task, org, agent, now}},
            {"INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at)"
             " VALUES ($1, $2, 'key', 'atr_x', $3, $4)",
             {new_id(), org, hash_token(org), now}},
            {"INSERT INTO invitations (id, organization_id, email, role_id, token_hash,"
             " created_at, expires_at) VALUES ($1, $2, 'x@example.com', $3, $4, $5, $5)",
             {new_id(), org, role, hash_token("invite" + org), now}},
            {"INSERT INTO org_secrets (organization_id, name, ciphertext, nonce, updated_at)"
             " VALUES ($1, 'openai', 'c', 'n', $2)",
             {org, now}},
            {"INSERT INTO audit_log (id, organization_id, actor_type, action, created_at)"
             " VALUES ($1, $2, 'user', 'org.create', $3)",
             {new_id(), org, now}},
            {"INSERT INTO role_permissions (role_id, permission_id) SELECT $1, id FROM permissions",
             {role}},
        };
        for (const auto& [sql, params] : statements) {
          if (auto r = tx.execute(sql, Params(params)); !r) return fail(r.error());
        }
        for (const auto& user : members) {
          if (auto r = tx.execute("INSERT INTO user_organization_roles (id, user_id,"
                                  " organization_id, role_id, created_at)"
                                  " VALUES ($1, $2, $3, $4, $5)",
                                  {new_id(), user, org, role, now});
              !r)
            return fail(r.error());
        }
        return {};
      });
    };
    auto perms = owner().transact({}, [&](Tx& tx) {
      return tx.execute("INSERT INTO permissions (id, name) VALUES ($1, 'agents:read')",
                        {new_id()});
    });
    ASSERT_TRUE(perms) << perms.error().detail;
    auto a = populate(w_.a, "org-a", w_.role_a, w_.agent_a, w_.task_a, {w_.alice});
    ASSERT_TRUE(a) << a.error().detail;
    auto b = populate(w_.b, "org-b", w_.role_b, w_.agent_b, w_.task_b, {w_.alice, w_.bob});
    ASSERT_TRUE(b) << b.error().detail;
    // An entry of no organization (a failed login of an unknown email).
    auto anonymous = app().transact({}, [&](Tx& tx) {
      return tx.execute(
          "INSERT INTO audit_log (id, organization_id, actor_type, action, created_at)"
          " VALUES ($1, NULL, 'anonymous', 'auth.login_failed', $2)",
          {new_id(), now});
    });
    ASSERT_TRUE(anonymous) << anonymous.error().detail;
  }

  Database& app() { return *t_->app; }
  Database& owner() { return *t_->db; }

  // Rows of `sql` seen with `options`, or -1 on error.
  std::int64_t count(Database& db, const TxOptions& options, const std::string& sql) {
    auto r = db.transact(options, [&](Tx& tx) { return tx.query_one(sql); });
    if (!r) {
      ADD_FAILURE() << sql << ": " << r.error().detail;
      return -1;
    }
    return (*r)->integer(0);
  }

  // Runs `sql` as the application in a transaction of its own; returns its error code, if any.
  std::optional<Code> app_error(const std::string& sql, const TxOptions& options = {}) {
    auto r = app().transact(options, [&](Tx& tx) { return tx.execute_script(sql); });
    if (r) return std::nullopt;
    return r.error().code;
  }

  World w_;
  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(RowLevelSecurity, AStoreWithoutItsFilterSeesOnlyItsTenantsRows) {
  UnfilteredAgentStore store(app());
  auto list_a = store.list(w_.a);
  ASSERT_TRUE(list_a) << list_a.error().detail;
  ASSERT_EQ(list_a->size(), 1u);
  EXPECT_EQ((*list_a)[0].text(0), w_.agent_a);
  for (const auto& row : *list_a) EXPECT_EQ(row.text(1), w_.a);

  auto b_from_a = store.get(w_.a, w_.agent_b);
  ASSERT_TRUE(b_from_a);
  EXPECT_FALSE(*b_from_a) << "tenant A read tenant B's agent";
}

TEST_P(RowLevelSecurity, AStoreWithoutItsFilterCannotWriteAnotherTenantsRows) {
  UnfilteredAgentStore store(app());
  auto planted = store.insert(w_.a, w_.b, new_id());
  ASSERT_FALSE(planted) << "a row of B was written while acting for A";
  EXPECT_EQ(planted.error().code, Code::kInternal);

  auto renamed = store.rename(w_.a, w_.agent_b);
  ASSERT_TRUE(renamed) << renamed.error().detail;
  EXPECT_EQ(*renamed, 0);
  auto removed = store.remove(w_.a, w_.agent_b);
  ASSERT_TRUE(removed) << removed.error().detail;
  EXPECT_EQ(*removed, 0);
  auto stolen = store.move_to(w_.a, w_.agent_a, w_.b);
  ASSERT_FALSE(stolen) << "a row of A was handed to B";

  // B's rows are as they were.
  auto list_b = store.list(w_.b);
  ASSERT_TRUE(list_b) << list_b.error().detail;
  ASSERT_EQ(list_b->size(), 1u);
  EXPECT_EQ((*list_b)[0].text(0), w_.agent_b);
  EXPECT_EQ(count(app(), {.tenant = w_.b}, "SELECT COUNT(*) FROM agents WHERE name = 'renamed'"),
            0);
  // And the control: the same store writes its own tenant's rows.
  EXPECT_TRUE(store.insert(w_.a, w_.a, new_id()));
}

// The procedures the writers call on PostgreSQL instead of their INSERTs (outbox rows, audit
// entries, new tasks: migrations/postgres/0011) run as the caller, under its row-level security
// and the transaction's scope: they write the tenant's own rows and refuse what the INSERTs
// refused — another tenant's row, a task naming an agent the tenant does not have, a duplicate
// idempotency key.
TEST_P(RowLevelSecurity, WriteProceduresAreHeldToTheTransactionsTenant) {
  const std::string now = format_time(std::chrono::system_clock::now());
  auto call = [&](const std::optional<std::string>& tenant, const std::string& sql,
                  std::vector<Value> params) -> std::optional<Code> {
    auto r = app().transact({.tenant = tenant}, [&](Tx& tx) -> Result<void> {
      auto done = tx.execute(sql, Params(params));
      if (!done) return fail(done.error());
      return {};
    });
    if (r) return std::nullopt;
    return r.error().code;
  };
  const std::string task = "CALL insert_task($1, $2, $3, '{\"n\": 1}', $4, NULL, $5)";
  const std::string entry =
      "CALL insert_audit_entry($1, $2, 'user', NULL, 'test.write', NULL, NULL, NULL, NULL, NULL,"
      " '{}', $3)";
  const std::string row = "CALL insert_outbox_row($1, 'test', $2, 'payload', $3, $3)";

  // The tenant's own rows.
  EXPECT_EQ(call(w_.a, task, {new_id(), w_.a, w_.agent_a, "key-1", now}), std::nullopt);
  EXPECT_EQ(call(w_.a, entry, {new_id(), w_.a, now}), std::nullopt);
  EXPECT_EQ(call(w_.a, row, {new_id(), w_.a, now}), std::nullopt);
  EXPECT_EQ(
      count(app(), {.tenant = w_.a},
            "SELECT COUNT(*) FROM tasks WHERE idempotency_key = 'key-1' AND status = "
            "'queued' AND attempts = 0 AND available_at = created_at AND input = '{\"n\": 1}'"),
      1);
  EXPECT_EQ(
      count(app(), {.tenant = w_.a}, "SELECT COUNT(*) FROM audit_log WHERE action = 'test.write'"),
      1);

  // Another tenant's rows: refused by row-level security — for a task already by its insert
  // trigger (0009), which finds no such agent among the rows the transaction's tenant sees.
  EXPECT_EQ(call(w_.a, entry, {new_id(), w_.b, now}), Code::kInternal);
  EXPECT_EQ(call(std::nullopt, entry, {new_id(), w_.a, now}), Code::kInternal);
  EXPECT_EQ(call(w_.a, task, {new_id(), w_.b, w_.agent_b, nullptr, now}), Code::kConflict);
  EXPECT_EQ(call(std::nullopt, task, {new_id(), w_.a, w_.agent_a, nullptr, now}), Code::kConflict);
  // A task of the tenant naming another tenant's agent, or none.
  EXPECT_EQ(call(w_.a, task, {new_id(), w_.a, w_.agent_b, nullptr, now}), Code::kConflict);
  EXPECT_EQ(call(w_.a, task, {new_id(), w_.a, new_id(), nullptr, now}), Code::kConflict);
  // The same idempotency key again: the unique violation.
  EXPECT_EQ(call(w_.a, task, {new_id(), w_.a, w_.agent_a, "key-1", now}), Code::kConflict);
  // (B may use the same key.)
  EXPECT_EQ(call(w_.b, task, {new_id(), w_.b, w_.agent_b, "key-1", now}), std::nullopt);

  EXPECT_EQ(count(owner(), {.read_only = true, .cross_tenant_read = "test"},
                  "SELECT COUNT(*) FROM tasks"),
            4);  // task_a, task_b and the two written above
  EXPECT_EQ(count(owner(), {.read_only = true, .cross_tenant_read = "test"},
                  "SELECT COUNT(*) FROM audit_log WHERE action = 'test.write'"),
            1);
}

TEST_P(RowLevelSecurity, WithoutATenantTenantTablesShowNoTenantRows) {
  const std::vector<std::string> queries = {
      "SELECT COUNT(*) FROM organizations",
      "SELECT COUNT(*) FROM agents",
      "SELECT COUNT(*) FROM tasks",
      "SELECT COUNT(*) FROM api_keys",
      "SELECT COUNT(*) FROM invitations",
      "SELECT COUNT(*) FROM org_secrets",
      "SELECT COUNT(*) FROM audit_log",
      "SELECT COUNT(*) FROM user_organization_roles WHERE organization_id IS NOT NULL",
      "SELECT COUNT(*) FROM roles WHERE organization_id IS NOT NULL",
      "SELECT COUNT(*) FROM role_permissions",
  };
  for (const auto& sql : queries) {
    EXPECT_EQ(count(app(), {.read_only = true}, sql), 0) << sql;
    // The rows are there: tenant A sees its own.
    EXPECT_GT(count(app(), {.tenant = w_.a, .read_only = true}, sql), 0) << sql;
  }
  // Global rows stay readable: system roles and the super admin's membership.
  EXPECT_EQ(count(app(), {}, "SELECT COUNT(*) FROM roles"), 2);
  EXPECT_EQ(count(app(), {}, "SELECT COUNT(*) FROM user_organization_roles"), 1);
}

TEST_P(RowLevelSecurity, ATenantSeesItsRowsAndTheGlobalOnesOnly) {
  const TxOptions a{.tenant = w_.a, .read_only = true};
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM organizations"), 1);
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM tasks"), 1);
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM audit_log"), 1);
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM roles"), 3);  // 2 system + its custom role
  // Its member (alice) and the global super admin; not bob, who is only in B.
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM user_organization_roles"), 2);
  EXPECT_EQ(count(app(), a, "SELECT COUNT(*) FROM role_permissions"), 1);
}

TEST_P(RowLevelSecurity, EveryTableWithAnOrganizationIsForced) {
  // A later migration adding a tenant table without row-level security fails here.
  auto r = owner().transact({.read_only = true}, [](Tx& tx) {
    return tx.query(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname IN"
        " (SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
        "  AND column_name = 'organization_id')"
        " OR c.relname IN ('organizations', 'role_permissions')");
  });
  ASSERT_TRUE(r) << r.error().detail;
  // refresh_tokens: a user's sessions, found by hash before a tenant is known; token_revocations:
  // platform-level, every replica reads every tenant's (both documented).
  const std::set<std::string> exempt = {"refresh_tokens", "token_revocations"};
  std::set<std::string> forced;
  for (const auto& row : *r) {
    const std::string table = row.text(0);
    if (exempt.count(table)) continue;
    EXPECT_TRUE(row.boolean(1)) << table << " has row-level security disabled";
    EXPECT_TRUE(row.boolean(2)) << table << " does not force row-level security";
    forced.insert(table);
  }
  EXPECT_EQ(forced, (std::set<std::string>{"agents", "api_keys", "audit_log", "invitations",
                                           "org_secrets", "organizations", "role_permissions",
                                           "roles", "tasks", "user_organization_roles"}));
}

TEST_P(RowLevelSecurity, TheAppRoleOwnsNothingAndCannotTurnItOff) {
  auto r = app().transact({.read_only = true}, [](Tx& tx) {
    return tx.query(
        "SELECT r.rolsuper, r.rolbypassrls,"
        " (SELECT COUNT(*) FROM pg_tables t WHERE t.schemaname = 'public'"
        "   AND pg_has_role(current_user, t.tableowner, 'MEMBER')),"
        " (SELECT bool_or(g.rolsuper OR g.rolbypassrls) FROM pg_roles g"
        "   WHERE pg_has_role(current_user, g.oid, 'MEMBER'))"
        " FROM pg_roles r WHERE r.rolname = current_user");
  });
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE((*r)[0].boolean(0)) << "the application role is a superuser";
  EXPECT_FALSE((*r)[0].boolean(1)) << "the application role bypasses row-level security";
  EXPECT_EQ((*r)[0].integer(2), 0) << "the application role owns tables";
  EXPECT_FALSE((*r)[0].boolean(3)) << "a role the application inherits bypasses RLS";

  const TxOptions a{.tenant = w_.a};
  for (const char* sql : {
           "ALTER TABLE agents DISABLE ROW LEVEL SECURITY",
           "ALTER TABLE agents NO FORCE ROW LEVEL SECURITY",
           "DROP POLICY tenant_rows ON agents",
           "CREATE POLICY everything ON agents USING (true)",
           "ALTER POLICY tenant_rows ON agents USING (true)",
           "CREATE TABLE sneaky (id int)",
           "SET LOCAL ROLE atrium_owner",
           "CREATE OR REPLACE FUNCTION api_key_organization(key_hash text) RETURNS uuid"
           " LANGUAGE sql AS $$ SELECT NULL::uuid $$",
           "ALTER FUNCTION api_key_organization(text) SECURITY INVOKER",
           "ALTER POLICY pre_tenant_lookup ON api_keys TO PUBLIC",
           "SET LOCAL ROLE postgres",
           "SET LOCAL row_security = off; SELECT COUNT(*) FROM agents",
           "UPDATE audit_log SET action = 'forged'",
           "DELETE FROM audit_log",
           "TRUNCATE agents",
           "INSERT INTO permissions (id, name) VALUES (gen_random_uuid(), 'everything')",
           "DELETE FROM schema_migrations",
           "INSERT INTO roles (id, organization_id, name, created_at, updated_at)"
           " VALUES (gen_random_uuid(), NULL, 'SNEAKY', now(), now())",
           "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id, created_at)"
           " SELECT gen_random_uuid(), id, NULL, (SELECT id FROM roles WHERE name = 'SUPER_ADMIN'),"
           " now() FROM users WHERE email = 'bob@example.com'",
       }) {
    auto error = app_error(sql, a);
    EXPECT_TRUE(error) << "the application could run: " << sql;
  }
  // Rows the wall hides from a statement are left alone rather than refused: none changed.
  for (const TxOptions& scope : {TxOptions{.tenant = w_.a}, TxOptions{}}) {
    auto hijack = app().transact(scope, [](Tx& tx) {
      return tx.execute("UPDATE roles SET name = 'HIJACKED' WHERE organization_id IS NULL");
    });
    ASSERT_TRUE(hijack) << hijack.error().detail;
    EXPECT_EQ(*hijack, 0);
  }
  EXPECT_EQ(count(app(), {}, "SELECT COUNT(*) FROM roles WHERE name IN ('HIJACKED', 'SNEAKY')"), 0);
  EXPECT_EQ(count(owner(), {.read_only = true, .cross_tenant_read = "test"},
                  "SELECT COUNT(*) FROM audit_log WHERE action = 'forged'"),
            0);
}

TEST_P(RowLevelSecurity, MigratingAnUpToDateSchemaNeedsNoRights) {
  auto applied = migrate(app());
  ASSERT_TRUE(applied) << applied.error().detail;
  EXPECT_TRUE(applied->empty());
}

// The owner's audited cross-tenant reads (the admin commands, the tests' own inspection).
TEST_P(RowLevelSecurity, TheOwnersCrossTenantReadsSeeEveryTenantReadOnly) {
  const TxOptions cross{.user = w_.root, .read_only = true, .cross_tenant_read = "test: list"};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM agents"), 2);
  const std::string logged = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(logged.find(R"("msg":"cross-tenant read")"), std::string::npos) << logged;
  EXPECT_NE(logged.find(R"("purpose":"test: list")"), std::string::npos) << logged;
  EXPECT_NE(logged.find(w_.root), std::string::npos) << logged;

  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM organizations"), 2);
  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM tasks"), 2);
  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM audit_log"), 3);
  // Secrets stay with their tenant.
  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM org_secrets"), 0);
  // Nothing is written through it.
  auto write =
      owner().transact(cross, [](Tx& tx) { return tx.execute("UPDATE agents SET name = 'x'"); });
  EXPECT_FALSE(write);
  EXPECT_EQ(count(owner(), cross, "SELECT COUNT(*) FROM agents WHERE name = 'x'"), 0);
}

// The variable is not the application's key: asked for through TxOptions, or set by hand with
// set_config, it shows the application's role nothing of any tenant.
TEST_P(RowLevelSecurity, TheApplicationCannotReadAcrossTenantsBySettingAVariable) {
  const std::vector<std::string> queries = {
      "SELECT COUNT(*) FROM organizations",
      "SELECT COUNT(*) FROM agents",
      "SELECT COUNT(*) FROM tasks",
      "SELECT COUNT(*) FROM api_keys",
      "SELECT COUNT(*) FROM invitations",
      "SELECT COUNT(*) FROM audit_log",
      "SELECT COUNT(*) FROM user_organization_roles WHERE organization_id IS NOT NULL",
      "SELECT COUNT(*) FROM roles WHERE organization_id IS NOT NULL",
  };
  const TxOptions asked{.user = w_.root, .read_only = true, .cross_tenant_read = "test: list"};
  for (const auto& sql : queries) {
    EXPECT_EQ(count(app(), asked, sql), 0) << sql;
    auto by_hand = app().transact({.read_only = true}, [&](Tx& tx) -> Result<std::optional<Row>> {
      auto set = tx.query("SELECT set_config('app.cross_tenant_read', 'on', true)");
      if (!set) return fail(set.error());
      return tx.query_one(sql);
    });
    ASSERT_TRUE(by_hand && *by_hand) << sql;
    EXPECT_EQ((*by_hand)->integer(0), 0) << sql;
  }
  // Nothing is written through it either.
  EXPECT_TRUE(app_error("UPDATE agents SET name = 'x'", asked));
  EXPECT_TRUE(app_error("UPDATE agents SET name = 'x'", {.cross_tenant_read = "test: write"}));
}

// The application's cross-tenant reads: one function per purpose, a few columns each.
TEST_P(RowLevelSecurity, CrossTenantFunctionsAnswerTheirPurposeOnly) {
  auto query = [&](const std::string& sql, std::initializer_list<Value> params) {
    auto r = app().transact({.read_only = true, .cross_tenant_read = "test: functions"},
                            [&](Tx& tx) { return tx.query(sql, params); });
    EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().detail);
    return r ? *r : Rows{};
  };
  const std::string orgs = "SELECT id FROM cross_tenant_organizations($1, $2, $3)";
  const std::string one_org = "SELECT id FROM cross_tenant_organization($1, $2)";
  // The SUPER_ADMIN role of this world grants nothing yet: root is no super admin.
  EXPECT_TRUE(query(orgs, {w_.root, nullptr, 10}).empty());
  auto granted = owner().transact({}, [&](Tx& tx) -> Result<std::int64_t> {
    const std::string wildcard = new_id();
    auto p = tx.execute("INSERT INTO permissions (id, name) VALUES ($1, '*')", {wildcard});
    if (!p) return p;
    return tx.execute("INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)",
                      {w_.super_role, wildcard});
  });
  ASSERT_TRUE(granted) << granted.error().detail;

  auto all = query(orgs, {w_.root, nullptr, 10});
  ASSERT_EQ(all.size(), 2u);
  const std::string first = std::min(w_.a, w_.b), second = std::max(w_.a, w_.b);
  EXPECT_EQ(all[0].text(0), first);
  EXPECT_EQ(all[1].text(0), second);
  auto page = query(orgs, {w_.root, first, 1});
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].text(0), second);
  auto b = query(one_org, {w_.root, w_.b});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].text(0), w_.b);
  // Nobody else: a member of both organizations, an unknown id, a disabled super admin.
  EXPECT_TRUE(query(orgs, {w_.alice, nullptr, 10}).empty());
  EXPECT_TRUE(query(one_org, {w_.alice, w_.b}).empty());
  EXPECT_TRUE(query(orgs, {new_id(), nullptr, 10}).empty());
  auto disabled = owner().transact({}, [&](Tx& tx) {
    return tx.execute("UPDATE users SET disabled = true WHERE id = $1", {w_.root});
  });
  ASSERT_TRUE(disabled) << disabled.error().detail;
  EXPECT_TRUE(query(orgs, {w_.root, nullptr, 10}).empty());

  // The task sweeps: ids, organizations and times, every tenant's.
  EXPECT_EQ(query("SELECT id FROM queued_tasks($1, $2)", {nullptr, 10}).size(), 2u);
  auto counts = query("SELECT status, n FROM active_task_counts()", {});
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].text(0), "queued");
  EXPECT_EQ(counts[0].integer(1), 2);
  const std::string now = format_time(std::chrono::system_clock::now());
  EXPECT_TRUE(query("SELECT id FROM tasks_with_expired_leases($1, $2)", {now, 10}).empty());
  auto leased = app().transact({.tenant = w_.b}, [&](Tx& tx) {
    return tx.execute(
        "UPDATE tasks SET status = 'running', lease_expires_at = $2 WHERE id = $1",
        {w_.task_b, format_time(std::chrono::system_clock::now() - std::chrono::hours(1))});
  });
  ASSERT_TRUE(leased && *leased == 1);
  auto expired =
      query("SELECT id, organization_id FROM tasks_with_expired_leases($1, $2)", {now, 10});
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].text(0), w_.task_b);
  EXPECT_EQ(expired[0].text(1), w_.b);

  // The helper is the functions' own.
  EXPECT_TRUE(app_error("SELECT holds_global_wildcard('" + w_.root + "')"));
}

TEST_P(RowLevelSecurity, PreTenantLookupsReturnTheOrganizationAndNothingElse) {
  const std::string b_key = hash_token(w_.b), b_invitation = hash_token("invite" + w_.b);
  // Before a tenant is known, or while acting for another one: B's key and invitation name B.
  for (const TxOptions& scope :
       {TxOptions{.read_only = true}, TxOptions{.tenant = w_.a, .read_only = true}}) {
    auto r = app().transact(scope, [&](Tx& tx) {
      return tx.query_one(
          "SELECT api_key_organization($1), invitation_organization($2),"
          " api_key_organization($3), invitation_organization($3)",
          {b_key, b_invitation, hash_token("no such secret")});
    });
    ASSERT_TRUE(r && *r) << (r ? "no row" : r.error().detail);
    EXPECT_EQ((*r)->text(0), w_.b);
    EXPECT_EQ((*r)->text(1), w_.b);
    EXPECT_TRUE((*r)->is_null(2));
    EXPECT_TRUE((*r)->is_null(3));
  }
  // The rows themselves stay hidden from the application: after a lookup in the same
  // transaction, and with the lookups' own variable set by the application itself.
  for (const auto& [table, lookup] :
       {std::pair{"api_keys", "api_key"}, std::pair{"invitations", "invitation"}}) {
    const std::string rows_of_b =
        std::string("SELECT COUNT(*) FROM ") + table + " WHERE organization_id = $1";
    auto seen = app().transact(
        {.tenant = w_.a, .read_only = true}, [&](Tx& tx) -> Result<std::vector<std::int64_t>> {
          std::vector<std::int64_t> counts;
          auto found = tx.query("SELECT api_key_organization($1), invitation_organization($2)",
                                {b_key, b_invitation});
          if (!found) return fail(found.error());
          auto after_lookup = tx.query_one(rows_of_b, {w_.b});
          if (!after_lookup) return fail(after_lookup.error());
          counts.push_back((*after_lookup)->integer(0));
          auto set = tx.query("SELECT set_config('app.pre_tenant_lookup', $1, true)", {lookup});
          if (!set) return fail(set.error());
          auto after_set = tx.query_one(rows_of_b, {w_.b});
          if (!after_set) return fail(after_set.error());
          counts.push_back((*after_set)->integer(0));
          return counts;
        });
    ASSERT_TRUE(seen) << seen.error().detail;
    EXPECT_EQ(*seen, (std::vector<std::int64_t>{0, 0})) << table;
    // The control: acting for B, the same statement finds B's row.
    EXPECT_EQ(count(app(), {.tenant = w_.b, .read_only = true},
                    std::string("SELECT COUNT(*) FROM ") + table),
              1)
        << table;
  }
}

TEST_P(RowLevelSecurity, AUserSeesTheirOwnMembershipsEverywhere) {
  const TxOptions alice{.user = w_.alice, .read_only = true};
  EXPECT_EQ(count(app(), alice, "SELECT COUNT(*) FROM organizations"), 2);
  // Her two memberships and the global one; not bob's.
  EXPECT_EQ(count(app(), alice, "SELECT COUNT(*) FROM user_organization_roles"), 3);
  EXPECT_EQ(count(app(), alice,
                  "SELECT COUNT(*) FROM user_organization_roles WHERE user_id = '" + w_.bob + "'"),
            0);
  EXPECT_EQ(count(app(), alice, "SELECT COUNT(*) FROM roles"), 4);   // 2 system + A's + B's
  EXPECT_EQ(count(app(), alice, "SELECT COUNT(*) FROM agents"), 0);  // tenant data needs a tenant

  const TxOptions bob{.user = w_.bob, .read_only = true};
  EXPECT_EQ(count(app(), bob, "SELECT COUNT(*) FROM organizations"), 1);
  EXPECT_EQ(count(app(), bob, "SELECT COUNT(*) FROM roles"), 3);  // 2 system + B's
}

TEST_P(RowLevelSecurity, AMembershipCannotNameAnotherOrganizationsRole) {
  auto r = app().transact({.tenant = w_.a}, [&](Tx& tx) {
    return tx.execute(
        "INSERT INTO user_organization_roles (id, user_id, organization_id, role_id,"
        " created_at) VALUES ($1, $2, $3, $4, $5)",
        {new_id(), w_.bob, w_.a, w_.role_b, format_time(std::chrono::system_clock::now())});
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
  auto task = app().transact({.tenant = w_.a}, [&](Tx& tx) {
    return tx.execute(
        "INSERT INTO tasks (id, organization_id, agent_id, status, created_at)"
        " VALUES ($1, $2, $3, 'queued', $4)",
        {new_id(), w_.a, w_.agent_b, format_time(std::chrono::system_clock::now())});
  });
  ASSERT_FALSE(task) << "a task of A points at B's agent";
  EXPECT_EQ(task.error().code, Code::kConflict);
}

TEST_P(RowLevelSecurity, SessionSettingsLeftBehindDoNotWidenLaterTransactions) {
  // A careless session-level SET (not transaction-local) on a pooled server connection...
  auto careless = app().transact({}, [&](Tx& tx) -> Result<void> {
    auto r = tx.query(
        "SELECT set_config('app.org_id', $1, false),"
        " set_config('app.cross_tenant_read', 'on', false)",
        {w_.b});
    if (!r) return fail(r.error());
    return {};
  });
  ASSERT_TRUE(careless) << careless.error().detail;
  // ...is overridden by every later transaction's own scope.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(count(app(), {.tenant = w_.a, .read_only = true}, "SELECT COUNT(*) FROM agents"), 1);
    ASSERT_EQ(count(app(), {.read_only = true}, "SELECT COUNT(*) FROM agents"), 0);
  }
}

// Tenants A and B (and no tenant) interleaved on shared server connections: through PgBouncer,
// whose test pool has one server connection per database and user, every transaction runs on
// the same server session as the previous one, of whichever tenant.
TEST_P(RowLevelSecurity, InterleavedTenantsNeverSeeEachOthersRows) {
  constexpr int kThreads = 4;
  constexpr int kTransactionsPerThread = 2600;  // 10,400 in all
  std::atomic<int> transactions{0};
  std::atomic<int> wrong_rows{0};
  std::atomic<int> failures{0};
  std::mutex pids_mu;
  std::set<std::int64_t> server_pids;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::set<std::int64_t> pids;
      for (int i = 0; i < kTransactionsPerThread; ++i) {
        const int which = (i + t) % 3;  // A, B, none
        std::optional<std::string> tenant;
        if (which == 0) tenant = w_.a;
        if (which == 1) tenant = w_.b;
        const bool write = i % 50 == 0 && tenant;
        auto r =
            app().transact({.tenant = tenant, .read_only = !write}, [&](Tx& tx) -> Result<Rows> {
              if (write) {
                auto ins = tx.execute(
                    "INSERT INTO agents (id, organization_id, name, executor, created_at, "
                    "updated_at)"
                    " VALUES ($1, $2, 'leak test', 'echo', $3, $3)",
                    {new_id(), *tenant, format_time(std::chrono::system_clock::now())});
                if (!ins) return fail(ins.error());
              }
              return tx.query("SELECT organization_id, pg_backend_pid() FROM agents");
            });
        transactions.fetch_add(1);
        if (!r) {
          failures.fetch_add(1);
          continue;
        }
        if (!tenant && !r->empty()) wrong_rows.fetch_add(static_cast<int>(r->size()));
        for (const auto& row : *r) {
          if (tenant && row.text(0) != *tenant) wrong_rows.fetch_add(1);
          pids.insert(row.integer(1));
        }
        if (tenant && r->empty()) failures.fetch_add(1);  // its own agent must be there
      }
      std::lock_guard lock(pids_mu);
      server_pids.insert(pids.begin(), pids.end());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(transactions.load(), 10000);
  EXPECT_EQ(wrong_rows.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  if (GetParam().name == "pgbouncer") {
    EXPECT_EQ(server_pids.size(), 1u) << "the transactions did not share one server connection";
  }
}

TEST_P(RowLevelSecurity, TimesReadBackInUtcWhateverTheSessionTimeZone) {
  const std::string at = "2026-11-27T02:44:23.123456Z";
  auto r = app().transact({.tenant = w_.a}, [&](Tx& tx) -> Result<std::string> {
    auto set = tx.query("SELECT set_config('TimeZone', 'Asia/Kolkata', true)");
    if (!set) return fail(set.error());
    auto upd = tx.execute("UPDATE agents SET updated_at = $1 WHERE id = $2", {at, w_.agent_a});
    if (!upd) return fail(upd.error());
    auto row =
        tx.query_one("SELECT updated_at, updated_at::text FROM agents WHERE id = $1", {w_.agent_a});
    if (!row) return fail(row.error());
    EXPECT_EQ((*row)->text(1), "2026-11-27 08:14:23.123456+05:30");
    return (*row)->text(0);
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, at);
}

TEST_P(RowLevelSecurity, EveryTransactionReadsTimesInUtc) {
  // The driver copies a UTC time's text instead of converting it (write_rfc3339): each
  // transaction sets TimeZone itself, whatever a session-level SET left on the server connection.
  auto left = app().transact({.tenant = w_.a}, [&](Tx& tx) -> Result<void> {
    auto set = tx.query("SELECT set_config('TimeZone', 'Asia/Kolkata', false)");
    if (!set) return fail(set.error());
    return {};
  });
  ASSERT_TRUE(left) << left.error().detail;
  auto r = app().transact({.tenant = w_.a, .read_only = true}, [&](Tx& tx) -> Result<std::string> {
    auto row = tx.query_one("SELECT current_setting('TimeZone')");
    if (!row) return fail(row.error());
    return (*row)->text(0);
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, "UTC");
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RowLevelSecurity);
INSTANTIATE_TEST_SUITE_P(Backends, RowLevelSecurity,
                         ::testing::ValuesIn(atrium::testing::rls_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::db
