// The roles routes and GET /api/permissions through the application's request path, with real
// tokens, on every database backend: API.md's Roles table, escalation, system roles, revocation.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "access/permissions.hpp"
#include "platform/ids.hpp"
#include "support/api_harness.hpp"
#include "support/eventually.hpp"

namespace atrium::roles {
namespace {

using atrium::testing::Actor;
using atrium::testing::concurrently;
using atrium::testing::eventually;
using atrium::testing::expect_problem;
using http::Method;
using nlohmann::json;

class RolesApi : public atrium::testing::ApiTest {
 protected:
  json create(const Actor& who, json body, int status = 201) {
    auto r = app().call(Method::kPost, "/api/roles", body, who.token);
    EXPECT_EQ(r.status, status) << r.raw;
    return r.body;
  }

  // The role named `name` in `who`'s GET /api/roles.
  json find(const Actor& who, const std::string& name) {
    auto r = app().call(Method::kGet, "/api/roles?limit=100", {}, who.token);
    EXPECT_EQ(r.status, 200) << r.raw;
    for (const auto& role : r.body["items"])
      if (role["name"] == name) return role;
    return json();
  }
};

TEST_P(RolesApi, PermissionsAreTheCatalog) {
  auto r = app().call(Method::kGet, "/api/permissions", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["items"].size(), access::catalog().size());
  std::set<std::string> names;
  for (const auto& p : r.body["items"]) {
    names.insert(p["name"]);
    EXPECT_FALSE(p["description"].get<std::string>().empty());
  }
  EXPECT_TRUE(names.count("agents:read"));
  EXPECT_TRUE(names.count("tasks:*"));
  expect_problem(app().call(Method::kGet, "/api/permissions"), 401, "unauthenticated");
  // Any authenticated principal, an API key included.
  auto key = app().api_key(admin_, {"agents:read"});
  EXPECT_EQ(app().call(Method::kGet, "/api/permissions", {}, key.token).status, 200);
}

TEST_P(RolesApi, ListShowsSystemRolesThenOwn) {
  auto other = app().signup("eve@evil.example", "Evil");
  create(other, {{"name", "Theirs"}, {"permissions", {"agents:read"}}});
  auto mine = create(admin_, {{"name", "Operators"},
                              {"description", "Run agents"},
                              {"permissions", {"tasks:read", "agents:read", "tasks:create"}}});
  EXPECT_EQ(mine["system"], false);
  EXPECT_EQ(mine["permissions"], json({"agents:read", "tasks:create", "tasks:read"}));

  auto r = app().call(Method::kGet, "/api/roles", {}, admin_.token);
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> names;
  for (const auto& role : r.body["items"]) names.push_back(role["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"SUPER_ADMIN", "TENANT_ADMIN", "USER", "Operators"}));
  EXPECT_EQ(r.body["items"][0]["system"], true);
  EXPECT_EQ(r.body["items"][0]["permissions"], json({"*"}));
  EXPECT_EQ(r.body["items"][2]["permissions"],
            json({"agents:read", "org:read", "tasks:create", "tasks:read", "users:read"}));
  EXPECT_TRUE(r.body["next_cursor"].is_null());

  // Pages of one.
  std::vector<std::string> paged;
  std::string cursor;
  do {
    auto p =
        app().call(Method::kGet, "/api/roles?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor),
                   {}, admin_.token);
    ASSERT_EQ(p.status, 200) << p.raw;
    for (const auto& role : p.body["items"]) paged.push_back(role["name"]);
    cursor = p.body["next_cursor"].is_null() ? "" : p.body["next_cursor"].get<std::string>();
  } while (!cursor.empty() && paged.size() < 10);
  EXPECT_EQ(paged, names);

  // A USER reads them too (users:read); no credential does not.
  auto user = app().member(admin_, "user@acme.example", "USER");
  EXPECT_EQ(app().call(Method::kGet, "/api/roles", {}, user.token).status, 200);
  expect_problem(app().call(Method::kGet, "/api/roles"), 401, "unauthenticated");

  // SUPER_ADMIN is listed, but global: no organization grants it.
  expect_problem(
      app().call(Method::kPost, "/api/users",
                 json{{"email", "root@acme.example"}, {"role", "SUPER_ADMIN"}}, admin_.token),
      400, "invalid_request");
  // A global super admin outside any organization sees the system roles, and no tenant's own.
  auto root = app().super_admin("root@platform.example", std::nullopt);
  auto global = app().call(Method::kGet, "/api/roles", {}, root.token);
  ASSERT_EQ(global.status, 200) << global.raw;
  std::vector<std::string> system;
  for (const auto& role : global.body["items"]) system.push_back(role["name"]);
  EXPECT_EQ(system, (std::vector<std::string>{"SUPER_ADMIN", "TENANT_ADMIN", "USER"}));
}

TEST_P(RolesApi, CreateValidatesAndAudits) {
  auto role = create(admin_, {{"name", "Auditors"}, {"permissions", {"audit:read"}}});
  EXPECT_EQ(app().count("audit_log", "action = 'role.create' AND target_id = '" +
                                         role["id"].get<std::string>() +
                                         "' AND organization_id = '" + admin_.org_id + "'"),
            1);

  auto dup = app().call(Method::kPost, "/api/roles",
                        json{{"name", "Auditors"}, {"permissions", {"audit:read"}}}, admin_.token);
  expect_problem(dup, 409, "conflict");
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", "user"}, {"permissions", {"audit:read"}}}, admin_.token),
                 409, "conflict");  // a system role's name, in any case

  auto bad = app().call(Method::kPost, "/api/roles",
                        json{{"name", "-x"}, {"permissions", {"audit:read", "audit:write"}}},
                        admin_.token);
  expect_problem(bad, 400, "invalid_request");
  std::set<std::string> fields;
  for (const auto& e : bad.body["errors"]) fields.insert(e["field"]);
  EXPECT_TRUE(fields.count("name"));

  auto unknown =
      app().call(Method::kPost, "/api/roles",
                 json{{"name", "X"}, {"permissions", {"audit:read", "audit:write"}}}, admin_.token);
  expect_problem(unknown, 400, "invalid_request");
  EXPECT_EQ(unknown.body["errors"][0]["field"], "permissions[1]");
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", "X"}, {"permissions", json::array()}}, admin_.token),
                 400, "invalid_request");
  expect_problem(app().call(Method::kPost, "/api/roles", json{{"name", "X"}}, admin_.token), 400,
                 "invalid_request");
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", std::string(65, 'a')}, {"permissions", {"audit:read"}}},
                            admin_.token),
                 400, "invalid_request");

  // No escalation: TENANT_ADMIN lacks org:manage (DESIGN.md §6), and nobody grants "*".
  auto esc = app().call(Method::kPost, "/api/roles",
                        json{{"name", "Owners"}, {"permissions", {"org:manage"}}}, admin_.token);
  expect_problem(esc, 403, "privilege_escalation");
  EXPECT_NE(esc.body["detail"].get<std::string>().find("org:manage"), std::string::npos);
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", "Org all"}, {"permissions", {"org:*"}}}, admin_.token),
                 403, "privilege_escalation");
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", "Root"}, {"permissions", {"*"}}}, admin_.token),
                 400, "invalid_request");
  // The wildcard rule: agents:* is grantable by a holder of every agents permission only.
  expect_problem(
      app().call(Method::kPost, "/api/roles",
                 json{{"name", "Agents all"}, {"permissions", {"agents:*"}}}, admin_.token),
      403, "privilege_escalation");
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  create(root, {{"name", "Agents all"}, {"permissions", {"agents:*"}}});

  // USER has no roles:manage.
  auto user = app().member(admin_, "user@acme.example", "USER");
  expect_problem(app().call(Method::kPost, "/api/roles",
                            json{{"name", "Y"}, {"permissions", {"org:read"}}}, user.token),
                 403, "permission_denied");
  EXPECT_EQ(app().count("audit_log", "action = 'role.create'"), 2);
}

TEST_P(RolesApi, SystemRolesAreReadOnly) {
  auto admin_role = find(admin_, "TENANT_ADMIN");
  ASSERT_TRUE(admin_role.is_object());
  const std::string id = admin_role["id"];
  auto r = app().call(Method::kPatch, "/api/roles/" + id, json{{"description", "mine now"}},
                      admin_.token);
  expect_problem(r, 403, "permission_denied");
  expect_problem(app().call(Method::kDelete, "/api/roles/" + id, {}, admin_.token), 403,
                 "permission_denied");
  // Even for the global super admin.
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  expect_problem(
      app().call(Method::kPatch, "/api/roles/" + id, json{{"permissions", {"*"}}}, root.token), 403,
      "permission_denied");
  EXPECT_EQ(find(admin_, "TENANT_ADMIN"), admin_role);
}

TEST_P(RolesApi, PatchRewritesAndRevokesHolders) {
  auto role = create(admin_, {{"name", "Readers"}, {"permissions", {"agents:read"}}});
  const std::string id = role["id"];
  auto bob = app().member(admin_, "bob@acme.example", "Readers");
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, bob.token).status, 200);
  expect_problem(app().call(Method::kGet, "/api/audit", {}, bob.token), 403, "permission_denied");

  auto r = app().call(Method::kPatch, "/api/roles/" + id,
                      json{{"name", "Watchers"}, {"permissions", {"agents:read", "audit:read"}}},
                      admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["name"], "Watchers");
  EXPECT_EQ(r.body["permissions"], json({"agents:read", "audit:read"}));
  EXPECT_EQ(app().count("audit_log", "action = 'role.update' AND target_id = '" + id + "'"), 1);

  // Bob's old token is cut off; refreshing brings the new permissions.
  expect_problem(app().call(Method::kGet, "/api/agents", {}, bob.token), 401, "unauthenticated");
  auto refreshed =
      app().call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", bob.refresh_token}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.raw;
  EXPECT_EQ(refreshed.body["permissions"], json({"agents:read", "audit:read"}));
  EXPECT_EQ(app().call(Method::kGet, "/api/audit", {}, refreshed.body["access_token"]).status, 200);
  // The admin, who does not hold the role, keeps their token.
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, admin_.token).status, 200);

  // A description-only change leaves tokens alone.
  const std::string fresh = refreshed.body["access_token"];
  EXPECT_EQ(app()
                .call(Method::kPatch, "/api/roles/" + id, json{{"description", "d"}}, admin_.token)
                .status,
            200);
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, fresh).status, 200);

  expect_problem(app().call(Method::kPatch, "/api/roles/" + id,
                            json{{"permissions", {"org:manage"}}}, admin_.token),
                 403, "privilege_escalation");
  expect_problem(app().call(Method::kPatch, "/api/roles/" + id, json::object(), admin_.token), 400,
                 "invalid_request");
  expect_problem(
      app().call(Method::kPatch, "/api/roles/" + id, json{{"name", "USER"}}, admin_.token), 409,
      "conflict");
  create(admin_, {{"name", "Taken"}, {"permissions", {"agents:read"}}});
  expect_problem(
      app().call(Method::kPatch, "/api/roles/" + id, json{{"name", "Taken"}}, admin_.token), 409,
      "conflict");
}

// Two PATCHes of one role at once, many times (PostgreSQL runs them concurrently): neither undoes
// the other, and each decides on the role as the other left it.
TEST_P(RolesApi, ConcurrentPatchesDoNotUndoEachOther) {
  const json both = {"agents:read", "audit:read"};
  auto role = create(admin_, {{"name", "Ops"}, {"permissions", both}});
  const std::string path = "/api/roles/" + role["id"].get<std::string>();
  auto patch = [&](json body) {
    return [this, path, body] { return app().call(Method::kPatch, path, body, admin_.token); };
  };
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(app().call(Method::kPatch, path, json{{"permissions", both}}, admin_.token).status,
              200);
    // A narrowing and a description change: the description change leaves permissions alone.
    const std::string description = "round " + std::to_string(round);
    for (const auto& r : concurrently(
             {patch({{"permissions", {"agents:read"}}}), patch({{"description", description}})}))
      ASSERT_EQ(r.status, 200) << r.raw;
    auto now = find(admin_, "Ops");
    EXPECT_EQ(now["permissions"], json({"agents:read"}));
    EXPECT_EQ(now["description"], description);

    // Two permission changes: the second to commit read what the first wrote (its audit entry's
    // "from" is the first's "to").
    ASSERT_EQ(app().call(Method::kPatch, path, json{{"permissions", both}}, admin_.token).status,
              200);
    for (const auto& r : concurrently(
             {patch({{"permissions", {"agents:read"}}}), patch({{"permissions", {"audit:read"}}})}))
      ASSERT_EQ(r.status, 200) << r.raw;
    auto audit =
        app().call(Method::kGet, "/api/audit?action=role.update&limit=2", {}, admin_.token);
    ASSERT_EQ(audit.status, 200) << audit.raw;
    ASSERT_EQ(audit.body["items"].size(), 2u);
    const auto& second = audit.body["items"][0]["details"]["permissions"];
    const auto& first = audit.body["items"][1]["details"]["permissions"];
    EXPECT_EQ(first["from"], both);
    EXPECT_EQ(second["from"], first["to"]);
    EXPECT_EQ(find(admin_, "Ops")["permissions"], second["to"]);
  }
}

TEST_P(RolesApi, CannotChangeARoleAboveTheCaller) {
  auto root = app().super_admin("root@platform.example", admin_.org_id);
  auto owners = create(root, {{"name", "Owners"}, {"permissions", {"org:manage", "org:read"}}});
  auto r = app().call(Method::kPatch, "/api/roles/" + owners["id"].get<std::string>(),
                      json{{"permissions", {"org:read"}}}, admin_.token);
  expect_problem(r, 403, "privilege_escalation");
  EXPECT_EQ(find(admin_, "Owners")["permissions"], json({"org:manage", "org:read"}));
}

TEST_P(RolesApi, DeleteRefusesRolesInUse) {
  auto role = create(admin_, {{"name", "Temps"}, {"permissions", {"agents:read"}}});
  const std::string id = role["id"];
  auto bob = app().member(admin_, "bob@acme.example", "Temps");
  expect_problem(app().call(Method::kDelete, "/api/roles/" + id, {}, admin_.token), 409,
                 "conflict");
  ASSERT_EQ(app()
                .call(Method::kPatch, "/api/users/" + bob.user_id, json{{"roles", {"USER"}}},
                      admin_.token)
                .status,
            200);
  // A pending invitation naming it holds it too.
  auto inv = app().call(Method::kPost, "/api/users",
                        json{{"email", "new@acme.example"}, {"role", "Temps"}}, admin_.token);
  ASSERT_EQ(inv.status, 201) << inv.raw;
  expect_problem(app().call(Method::kDelete, "/api/roles/" + id, {}, admin_.token), 409,
                 "conflict");
  // Once it has expired it no longer does (and goes with the role).
  app().clock().advance(std::chrono::hours(24 * 8));
  const Actor admin = app().login(admin_.email, admin_.org_id);  // the old token expired too
  auto r = app().call(Method::kDelete, "/api/roles/" + id, {}, admin.token);
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_EQ(app().count("roles", "id = '" + id + "'"), 0);
  EXPECT_EQ(app().count("audit_log", "action = 'role.delete' AND target_id = '" + id + "'"), 1);
  expect_problem(app().call(Method::kDelete, "/api/roles/" + id, {}, admin.token), 404,
                 "not_found");
}

// A grant and an invitation naming a role, made while its deletion (whose checks found neither)
// has yet to commit, are refused rather than answered and then taken away with the role. Direct
// PostgreSQL only: SQLite runs one write transaction at a time, and the test PgBouncer's pool of
// one server connection runs the application's transactions one at a time too.
TEST_P(RolesApi, DeleteTakesNoGrantOrInvitationAnsweredMeanwhile) {
  if (GetParam().name != "postgres") GTEST_SKIP() << "needs concurrent write transactions";
  const std::string id =
      create(admin_, {{"name", "Temps"}, {"permissions", {"agents:read"}}})["id"];
  app().signup("carol@other.example", "Other");  // an existing user: granted the role at once
  auto call = [this](Method method, const std::string& path, std::optional<json> body) {
    return std::async(std::launch::async, [this, method, path, body] {
      return app().call(method, path, body, admin_.token);
    });
  };
  auto answered = [](const std::future<atrium::testing::Reply>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready ? 1 : 0;
  };
  std::future<atrium::testing::Reply> deleting, granting, inviting;
  auto held = app().db().transact({.tenant = admin_.org_id}, [&](db::Tx& tx) -> Result<void> {
    // Backends of this database waiting for a lock (pg_stat_activity as it is now, not as this
    // transaction first read it).
    auto waiting = [&tx] {
      if (!tx.query("SELECT pg_stat_clear_snapshot()")) return -1;
      auto n = tx.query_one(
          "SELECT COUNT(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid IN"
          " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())");
      return n && *n ? static_cast<int>((**n).integer(0)) : -1;
    };
    // What a foreign-key check takes on the role's row: the deletion's DELETE waits for it once
    // its checks have passed.
    auto locked = tx.query("SELECT 1 FROM roles WHERE id = $1 FOR KEY SHARE", {id});
    if (!locked) return fail(locked.error());
    if (deleting.valid()) return {};  // a retried transaction: the requests are on their way
    deleting = call(Method::kDelete, "/api/roles/" + id, std::nullopt);
    EXPECT_TRUE(eventually([&] { return waiting() == 1; }, std::chrono::seconds(10)))
        << "the deletion did not wait for the role's row";
    granting = call(Method::kPost, "/api/users",
                    json{{"email", "carol@other.example"}, {"role", "Temps"}});
    inviting =
        call(Method::kPost, "/api/users", json{{"email", "dan@new.example"}, {"role", "Temps"}});
    // Each is answered already (the fault) or waits for the deletion too.
    EXPECT_TRUE(eventually([&] { return waiting() + answered(granting) + answered(inviting) == 3; },
                           std::chrono::seconds(10)));
    return {};
  });
  ASSERT_TRUE(held) << held.error().detail;
  EXPECT_EQ(deleting.get().status, 204);
  expect_problem(granting.get(), 400, "invalid_request");
  expect_problem(inviting.get(), 400, "invalid_request");
  EXPECT_EQ(app().count("roles", "id = '" + id + "'"), 0);
}

TEST_P(RolesApi, AnotherTenantsRoleIsNotFound) {
  auto other = app().signup("eve@evil.example", "Evil");
  auto theirs = create(other, {{"name", "Theirs"}, {"permissions", {"agents:read"}}});
  const std::string id = theirs["id"];
  expect_problem(app().call(Method::kPatch, "/api/roles/" + id, json{{"name", ""}}, admin_.token),
                 404, "not_found");
  expect_problem(
      app().call(Method::kPatch, "/api/roles/" + id, json{{"name", "Mine"}}, admin_.token), 404,
      "not_found");
  expect_problem(app().call(Method::kDelete, "/api/roles/" + id, {}, admin_.token), 404,
                 "not_found");
  expect_problem(app().call(Method::kDelete, "/api/roles/" + new_id(), {}, admin_.token), 404,
                 "not_found");
  // Nor can it be granted here.
  auto grant =
      app().call(Method::kPost, "/api/users",
                 json{{"email", "someone@acme.example"}, {"role", "Theirs"}}, admin_.token);
  expect_problem(grant, 400, "invalid_request");
  EXPECT_EQ(find(other, "Theirs"), theirs);
}

// Roles created while the list is walked: none that was there is skipped or seen twice.
TEST_P(RolesApi, PagesStayWholeWhileRolesAreCreated) {
  for (int i = 0; i < 4; ++i)
    create(admin_, {{"name", "Before " + std::to_string(i)}, {"permissions", {"agents:read"}}});
  const auto before = atrium::testing::walk(
      app(), "/api/roles", admin_.token, "id", [] {}, 100);
  ASSERT_EQ(before.size(), 7u);  // the three system roles and the four
  int n = 0;
  auto seen = atrium::testing::walk(app(), "/api/roles", admin_.token, "id", [&] {
    create(admin_, {{"name", "During " + std::to_string(++n)}, {"permissions", {"agents:read"}}});
  });
  atrium::testing::expect_whole(before, seen);
}

INSTANTIATE_TEST_SUITE_P(Backends, RolesApi, ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::roles
