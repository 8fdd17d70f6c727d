// The isolation matrix (issue #5, "Done means"), generated from the route table serve() builds:
// every route × {TENANT_ADMIN, USER, a custom role, an API key with one permission, an API key
// with every permission a TENANT_ADMIN may give it, the global super admin signed in to our
// organization, the global super admin in none, no credential} × {own object, another tenant's, a
// missing one}. Each answer must be
// the expected status, no answer may carry anything of the other tenant (but where API.md lets the
// super admin cross), and the other tenant's rows must be exactly as before every request.
//
// A route in the table without a case here fails the test, and so does a case for a route the
// table no longer has: a new route cannot ship without its rows in the matrix.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "access/permissions.hpp"
#include "platform/ids.hpp"
#include "support/api_harness.hpp"

namespace atrium::app {
namespace {

using atrium::testing::Actor;
using atrium::testing::Backend;
using atrium::testing::kTestPassword;
using atrium::testing::Reply;
using atrium::testing::TestApp;
using http::Method;
using nlohmann::json;

enum class Who {
  kTenantAdmin,
  kUser,
  kCustom,
  kApiKey,
  kManagingKey,
  kSuperAdmin,
  kGlobalSuperAdmin,
  kNone
};
enum class Target { kOwn, kOther, kMissing };

constexpr Who kEveryone[] = {Who::kTenantAdmin,      Who::kUser,        Who::kCustom,
                             Who::kApiKey,           Who::kManagingKey, Who::kSuperAdmin,
                             Who::kGlobalSuperAdmin, Who::kNone};

bool is_key(Who w) { return w == Who::kApiKey || w == Who::kManagingKey; }
bool is_super(Who w) { return w == Who::kSuperAdmin || w == Who::kGlobalSuperAdmin; }

std::string name(Who w) {
  switch (w) {
    case Who::kTenantAdmin:
      return "TENANT_ADMIN";
    case Who::kUser:
      return "USER";
    case Who::kCustom:
      return "custom role";
    case Who::kApiKey:
      return "API key (agents:read)";
    case Who::kManagingKey:
      return "API key (every TENANT_ADMIN permission)";
    case Who::kSuperAdmin:
      return "SUPER_ADMIN";
    case Who::kGlobalSuperAdmin:
      return "SUPER_ADMIN without an organization";
    case Who::kNone:
      return "no credential";
  }
  return "?";
}
std::string name(Target t) {
  return t == Target::kOwn ? "own" : t == Target::kOther ? "another tenant's" : "missing";
}

// The custom role of the matrix: some routes allowed, others not; org:manage makes it the one
// non-`*` principal that exercises the organization routes (a super admin created it).
const std::vector<std::string> kCustomPermissions = {"org:read",      "org:manage", "agents:read",
                                                     "agents:manage", "audit:read", "tasks:read"};

// Two organizations: ours (every principal belongs to it) and another tenant's, with one of each
// object. Objects of ours that a request may consume are made fresh by the cases.
class World {
 public:
  World(TestApp& app, int n) : app_(app), n_(std::to_string(n)) {
    own_admin = app.signup("admin-" + n_ + "@own.example", "Own " + n_);
    other_admin = app.signup("admin-" + n_ + "@other.example", "OTHER-MARKER " + n_);
    own = own_admin.org_id;
    other = other_admin.org_id;
    actors[Who::kTenantAdmin] = own_admin;
    actors[Who::kSuperAdmin] = app.super_admin("root-" + n_ + "@platform.example", own);
    actors[Who::kGlobalSuperAdmin] =
        app.super_admin("global-" + n_ + "@platform.example", std::nullopt);
    auto role = must(Method::kPost, "/api/roles",
                     json{{"name", "Operator"}, {"permissions", kCustomPermissions}},
                     actors[Who::kSuperAdmin].token, 201);
    actors[Who::kUser] = app.member(own_admin, "user-" + n_ + "@own.example", "USER");
    actors[Who::kCustom] = app.member(own_admin, "operator-" + n_ + "@own.example", "Operator");
    actors[Who::kApiKey] = app.api_key(own_admin, {"agents:read"});
    actors[Who::kManagingKey] =
        app.api_key(own_admin, {"org:read", "users:read", "users:manage", "roles:manage",
                                "agents:read", "agents:create", "agents:manage", "tasks:read",
                                "tasks:create", "tasks:cancel", "audit:read", "apikeys:manage"});
    own_agent = fresh_agent();

    other_agent = must(Method::kPost, "/api/agents",
                       json{{"name", "OTHER-MARKER agent"}, {"executor", "echo"}},
                       other_admin.token, 201)["id"];
    other_role = must(Method::kPost, "/api/roles",
                      json{{"name", "OTHER-MARKER role"}, {"permissions", {"agents:read"}}},
                      other_admin.token, 201)["id"];
    other_member = app.member(other_admin, "member-" + n_ + "@other.example", "USER").user_id;
    other_task = must(Method::kPost, "/api/agents/" + other_agent + "/tasks",
                      json{{"input", "OTHER-MARKER input"}}, other_admin.token, 202)["id"];
    other_key = must(Method::kPost, "/api/api-keys",
                     json{{"name", "OTHER-MARKER key"}, {"permissions", {"agents:read"}}},
                     other_admin.token, 201)["id"];
    other_invitation = must(Method::kPost, "/api/users",
                            json{{"email", "invited-" + n_ + "@other.example"}, {"role", "USER"}},
                            other_admin.token, 201)["invitation"]["token"];
    (void)role;
  }

  json must(Method m, const std::string& target, const std::optional<json>& body,
            const std::string& token, int status) {
    auto r = app_.call(m, target, body, token);
    if (r.status != status)
      throw std::runtime_error("world: " + target + " answered " + std::to_string(r.status) + " " +
                               r.raw);
    return r.body;
  }

  std::string unique(const std::string& what) {
    return what + "-" + n_ + "-" + std::to_string(++seq_);
  }

  std::string fresh_agent() {
    return must(Method::kPost, "/api/agents", json{{"name", unique("agent")}, {"executor", "echo"}},
                own_admin.token, 201)["id"];
  }
  std::string fresh_task() {
    return must(Method::kPost, "/api/agents/" + own_agent + "/tasks", json{{"input", "hi"}},
                own_admin.token, 202)["id"];
  }
  std::string fresh_member() {
    return app_.member(own_admin, unique("member") + "@own.example", "USER").user_id;
  }
  std::string fresh_role() {
    return must(Method::kPost, "/api/roles",
                json{{"name", unique("role")}, {"permissions", {"agents:read"}}}, own_admin.token,
                201)["id"];
  }
  std::string fresh_key() {
    return must(Method::kPost, "/api/api-keys",
                json{{"name", unique("key")}, {"permissions", {"agents:read"}}}, own_admin.token,
                201)["id"];
  }
  std::string fresh_invitation() {
    return must(Method::kPost, "/api/users",
                json{{"email", unique("invitee") + "@own.example"}, {"role", "USER"}},
                own_admin.token, 201)["invitation"]["token"];
  }
  std::string fresh_refresh_token() { return app_.login(own_admin.email, own).refresh_token; }

  // Everything of the other tenant a response must not show.
  std::vector<std::string> other_secrets() const {
    return {other,        other_admin.user_id, other_admin.email, other_agent,   other_role,
            other_member, other_key,           other_task,        "OTHER-MARKER"};
  }

  // The other tenant's rows, every table it owns (its audit entries but those the super admins'
  // permitted crossings write there).
  std::string other_rows() {
    const std::string super = actors[Who::kSuperAdmin].user_id;
    const std::string global = actors[Who::kGlobalSuperAdmin].user_id;
    std::string out;
    const std::pair<const char*, std::string> queries[] = {
        {"organizations", "SELECT * FROM organizations WHERE id = $1 ORDER BY id"},
        {"agents", "SELECT * FROM agents WHERE organization_id = $1 ORDER BY id"},
        {"tasks", "SELECT * FROM tasks WHERE organization_id = $1 ORDER BY id"},
        {"api_keys", "SELECT * FROM api_keys WHERE organization_id = $1 ORDER BY id"},
        {"invitations", "SELECT * FROM invitations WHERE organization_id = $1 ORDER BY id"},
        {"roles", "SELECT * FROM roles WHERE organization_id = $1 ORDER BY id"},
        {"role_permissions",
         "SELECT * FROM role_permissions WHERE role_id IN (SELECT id FROM roles WHERE "
         "organization_id = $1) ORDER BY role_id, permission_id"},
        {"memberships",
         "SELECT * FROM user_organization_roles WHERE organization_id = $1 ORDER BY id"},
        {"users",
         "SELECT * FROM users WHERE id IN (SELECT user_id FROM user_organization_roles WHERE "
         "organization_id = $1) ORDER BY id"},
        {"org_secrets", "SELECT * FROM org_secrets WHERE organization_id = $1 ORDER BY name"},
        {"audit_log",
         "SELECT * FROM audit_log WHERE organization_id = $1 AND (actor_id IS NULL OR actor_id NOT "
         "IN ($2, $3)) ORDER BY id"},
    };
    for (const auto& [table, sql] : queries) {
      auto rows = app_.db().transact({.tenant = other, .read_only = true}, [&](db::Tx& tx) {
        return std::string(table) == "audit_log" ? tx.query(sql, {other, super, global})
                                                 : tx.query(sql, {other});
      });
      if (!rows)
        throw std::runtime_error(std::string("snapshot ") + table + ": " + rows.error().detail);
      out += table;
      out += ":";
      for (const auto& row : *rows) {
        for (std::size_t i = 0; i < row.size(); ++i) out += row.text(i) + "|";
        out += ";";
      }
      out += "\n";
    }
    return out;
  }

  TestApp& app_;
  const std::string n_;
  int seq_ = 0;
  Actor own_admin, other_admin;
  std::string own, other;
  std::map<Who, Actor> actors;
  std::string own_agent;
  std::string other_agent, other_role, other_member, other_key, other_task, other_invitation;
};

struct Call {
  std::string target;
  std::optional<json> body;
};

struct Case {
  int ok = 200;                                            // own target, a caller allowed to call
  std::vector<Target> targets = {Target::kOwn};            // the targets the route can name
  std::function<Call(World&, Target, Who)> make;           // the request (makes fresh objects)
  std::function<std::optional<int>(Who, Target)> special;  // overrides of the generic rule
  bool super_crosses = false;     // API.md lets the global super admin reach the other tenant here
  int missing = 404;              // the answer for a missing target (lists filtered by it: 200)
  int other = 404;                // the answer for another tenant's target
  bool empty_unless_own = false;  // a list whose filter names the target: empty unless own
  bool destroys = false;          // a success ends the world (deleting the organization)
  // The answer for our object to the super admin signed in to no organization: 0 = `ok`. Routes
  // acting in the caller's organization find nothing of ours (404) or have none to create in (400).
  int orgless = 0;
};

// The id of `target` for routes naming an object: own (fresh or standing), another tenant's, or
// a valid id that names nothing.
std::string pick(Target t, const std::string& own, const std::string& other) {
  return t == Target::kOwn ? own : t == Target::kOther ? other : new_id();
}

const std::vector<Target> kAll = {Target::kOwn, Target::kOther, Target::kMissing};

std::map<std::string, Case> cases() {
  std::map<std::string, Case> c;
  auto fixed = [](std::string target, std::optional<json> body = std::nullopt) {
    return [=](World&, Target, Who) { return Call{target, body}; };
  };
  auto key_refused = [](Who w, Target) -> std::optional<int> {
    if (is_key(w)) return 403;
    return std::nullopt;
  };

  // --- public
  c["POST /api/auth/signup"] = {201, {Target::kOwn}, [](World& w, Target, Who) {
                                  return Call{"/api/auth/signup",
                                              json{{"email", w.unique("signup") + "@new.example"},
                                                   {"password", kTestPassword},
                                                   {"organization_name", "New"}}};
                                }};
  c["POST /api/auth/login"] = {200, {Target::kOwn}, [](World& w, Target, Who) {
                                 return Call{"/api/auth/login", json{{"email", w.own_admin.email},
                                                                     {"password", kTestPassword}}};
                               }};
  c["POST /api/auth/refresh"] = {
      200, {Target::kOwn}, [](World& w, Target, Who) {
        return Call{"/api/auth/refresh", json{{"refresh_token", w.fresh_refresh_token()}}};
      }};
  c["POST /api/auth/logout"] = {
      204, {Target::kOwn}, [](World& w, Target, Who) {
        return Call{"/api/auth/logout", json{{"refresh_token", w.fresh_refresh_token()}}};
      }};
  // Another tenant's invitation: nobody here was invited, so a signed-in caller is refused as for
  // one of ours; without a credential (a new account) the body lacks the password it would need.
  c["POST /api/invitations/accept"] = {
      200, kAll,
      [](World& w, Target t, Who who) {
        const std::string token = t == Target::kOwn     ? w.fresh_invitation()
                                  : t == Target::kOther ? w.other_invitation
                                                        : "inv_" + random_token(32);
        json body = {{"token", token}};
        if (who == Who::kNone && t != Target::kOther) body["password"] = kTestPassword;
        return Call{"/api/invitations/accept", body};
      },
      [](Who w, Target t) -> std::optional<int> {
        if (is_key(w)) return 403;  // a key never accepts
        if (w == Who::kNone) return t == Target::kOwn ? 200 : t == Target::kOther ? 400 : 404;
        return t == Target::kMissing ? 404 : 403;  // signed in as someone not invited
      }};
  for (const char* path : {"/healthz", "/readyz", "/metrics"})
    c[std::string("GET ") + path] = {200, {Target::kOwn}, fixed(path)};

  // --- authenticated
  c["POST /api/auth/switch"] = {
      200, kAll,
      [](World& w, Target t, Who) {
        return Call{"/api/auth/switch", json{{"organization_id", pick(t, w.own, w.other)}}};
      },
      key_refused, true};
  c["GET /api/me"] = {200, {Target::kOwn}, fixed("/api/me")};
  c["GET /api/permissions"] = {200, {Target::kOwn}, fixed("/api/permissions")};
  c["GET /api/orgs"] = {200, {Target::kOwn}, fixed("/api/orgs"), nullptr, true};
  c["POST /api/orgs"] = {201,
                         {Target::kOwn},
                         [](World& w, Target, Who) {
                           return Call{"/api/orgs", json{{"name", w.unique("org")}}};
                         },
                         key_refused};

  // --- organizations
  c["GET /api/orgs/{id}"] = {200, kAll,
                             [](World& w, Target t, Who) {
                               return Call{"/api/orgs/" + pick(t, w.own, w.other), {}};
                             },
                             nullptr, true};
  c["PUT /api/orgs/{id}"] = {
      200, kAll, [](World& w, Target t, Who) {
        return Call{"/api/orgs/" + pick(t, w.own, w.other), json{{"name", w.unique("renamed")}}};
      }};
  c["DELETE /api/orgs/{id}"] = {204,
                                kAll,
                                [](World& w, Target t, Who) {
                                  return Call{"/api/orgs/" + pick(t, w.own, w.other), {}};
                                },
                                nullptr,
                                false,
                                404,
                                404,
                                false,
                                true};
  c["PUT /api/orgs/{id}/secrets/{name}"] = {
      204, kAll, [](World& w, Target t, Who) {
        return Call{"/api/orgs/" + pick(t, w.own, w.other) + "/secrets/llm_api_key",
                    json{{"value", "sk-matrix"}}};
      }};

  // --- members
  c["GET /api/users"] = {200, {Target::kOwn}, fixed("/api/users")};
  c["POST /api/users"] = {
      201, {Target::kOwn}, [](World& w, Target, Who) {
        return Call{"/api/users",
                    json{{"email", w.unique("added") + "@own.example"}, {"role", "USER"}}};
      }};
  c["GET /api/users/{id}"] = {
      200, kAll, [](World& w, Target t, Who) {
        return Call{"/api/users/" + pick(t, w.actors[Who::kUser].user_id, w.other_member), {}};
      }};
  c["PATCH /api/users/{id}"] = {200, kAll, [](World& w, Target t, Who) {
                                  const std::string own = t == Target::kOwn ? w.fresh_member() : "";
                                  return Call{"/api/users/" + pick(t, own, w.other_member),
                                              json{{"roles", {"TENANT_ADMIN"}}}};
                                }};
  c["DELETE /api/users/{id}"] = {204, kAll, [](World& w, Target t, Who) {
                                   const std::string own =
                                       t == Target::kOwn ? w.fresh_member() : "";
                                   return Call{"/api/users/" + pick(t, own, w.other_member), {}};
                                 }};

  // --- roles
  c["GET /api/roles"] = {200, {Target::kOwn}, fixed("/api/roles")};
  c["POST /api/roles"] = {201, {Target::kOwn}, [](World& w, Target, Who) {
                            return Call{"/api/roles", json{{"name", w.unique("role")},
                                                           {"permissions", {"agents:read"}}}};
                          }};
  c["PATCH /api/roles/{id}"] = {
      200, kAll, [](World& w, Target t, Who) {
        const std::string own = t == Target::kOwn ? w.fresh_role() : "";
        return Call{"/api/roles/" + pick(t, own, w.other_role), json{{"description", "changed"}}};
      }};
  c["DELETE /api/roles/{id}"] = {204, kAll, [](World& w, Target t, Who) {
                                   const std::string own = t == Target::kOwn ? w.fresh_role() : "";
                                   return Call{"/api/roles/" + pick(t, own, w.other_role), {}};
                                 }};

  // --- agents
  c["GET /api/agents"] = {200, {Target::kOwn}, fixed("/api/agents")};
  c["POST /api/agents"] = {
      201, {Target::kOwn}, [](World& w, Target, Who) {
        return Call{"/api/agents", json{{"name", w.unique("agent")}, {"executor", "echo"}}};
      }};
  c["GET /api/agents/{id}"] = {
      200, kAll, [](World& w, Target t, Who) {
        return Call{"/api/agents/" + pick(t, w.own_agent, w.other_agent), {}};
      }};
  c["PATCH /api/agents/{id}"] = {
      200, kAll, [](World& w, Target t, Who) {
        const std::string own = t == Target::kOwn ? w.fresh_agent() : "";
        return Call{"/api/agents/" + pick(t, own, w.other_agent), json{{"name", "patched"}}};
      }};
  c["DELETE /api/agents/{id}"] = {204, kAll, [](World& w, Target t, Who) {
                                    const std::string own =
                                        t == Target::kOwn ? w.fresh_agent() : "";
                                    return Call{"/api/agents/" + pick(t, own, w.other_agent), {}};
                                  }};

  // --- tasks
  c["POST /api/agents/{id}/tasks"] = {
      202, kAll, [](World& w, Target t, Who) {
        return Call{"/api/agents/" + pick(t, w.own_agent, w.other_agent) + "/tasks",
                    json{{"input", "hi"}}};
      }};
  Case tasks_list{200, kAll, [](World& w, Target t, Who) {
                    return Call{"/api/tasks?agent_id=" + pick(t, w.own_agent, w.other_agent), {}};
                  }};
  tasks_list.missing = tasks_list.other = 200;  // a filter naming nothing of ours: an empty list
  tasks_list.empty_unless_own = true;
  c["GET /api/tasks"] = tasks_list;
  c["GET /api/tasks/{id}"] = {200, kAll, [](World& w, Target t, Who) {
                                const std::string own = t == Target::kOwn ? w.fresh_task() : "";
                                return Call{"/api/tasks/" + pick(t, own, w.other_task), {}};
                              }};
  c["POST /api/tasks/{id}/cancel"] = {
      200, kAll, [](World& w, Target t, Who) {
        const std::string own = t == Target::kOwn ? w.fresh_task() : "";
        return Call{"/api/tasks/" + pick(t, own, w.other_task) + "/cancel", {}};
      }};

  // --- realtime
  c["POST /api/realtime/ticket"] = {200, {Target::kOwn}, fixed("/api/realtime/ticket")};
  // Public in the table, the handler authenticates (a ticket, the bearer subprotocol or header).
  c["GET /ws"] = {101, {Target::kOwn}, fixed("/ws"), [](Who w, Target) -> std::optional<int> {
                    if (w == Who::kNone) return 401;
                    return std::nullopt;
                  }};

  // --- API keys and audit
  c["GET /api/api-keys"] = {200, {Target::kOwn}, fixed("/api/api-keys")};
  c["POST /api/api-keys"] = {
      201,
      {Target::kOwn},
      fixed("/api/api-keys", json{{"name", "matrix"}, {"permissions", {"agents:read"}}}),
      key_refused};  // API keys cannot create API keys
  c["DELETE /api/api-keys/{id}"] = {204, kAll, [](World& w, Target t, Who) {
                                      const std::string own =
                                          t == Target::kOwn ? w.fresh_key() : "";
                                      return Call{"/api/api-keys/" + pick(t, own, w.other_key), {}};
                                    }};
  c["GET /api/audit"] = {200, {Target::kOwn}, fixed("/api/audit?limit=100")};

  // The super admin signed in to no organization: our objects are not in its (absent)
  // organization, and there is none to create in. (Reading across tenants is GET /api/orgs{/id}.)
  for (const char* route :
       {"PUT /api/orgs/{id}", "DELETE /api/orgs/{id}", "PUT /api/orgs/{id}/secrets/{name}",
        "GET /api/users/{id}", "PATCH /api/users/{id}", "DELETE /api/users/{id}",
        "PATCH /api/roles/{id}", "DELETE /api/roles/{id}", "GET /api/agents/{id}",
        "PATCH /api/agents/{id}", "DELETE /api/agents/{id}", "POST /api/agents/{id}/tasks",
        "GET /api/tasks/{id}", "POST /api/tasks/{id}/cancel", "DELETE /api/api-keys/{id}"})
    c[route].orgless = 404;
  for (const char* route :
       {"POST /api/users", "POST /api/roles", "POST /api/agents", "POST /api/api-keys"})
    c[route].orgless = 400;
  c["GET /ws"].orgless = 403;  // a WebSocket carries an organization's task events
  return c;
}

std::string key_of(const http::Route& r) {
  return std::string(http::method_name(r.method)) + " " + r.path;
}

// What the caller holds: the bundle's permissions for a token, GET /api/me's for a key.
std::vector<std::string> permissions_of(TestApp& app, const Actor& a) {
  auto r = app.call(Method::kGet, "/api/me", {}, a.token);
  if (r.status != 200) throw std::runtime_error("me: " + r.raw);
  return r.body["permissions"].get<std::vector<std::string>>();
}

class IsolationMatrix : public ::testing::TestWithParam<Backend> {};

TEST_P(IsolationMatrix, EveryRouteEveryPrincipalEveryTarget) {
  TestApp app(GetParam());
  const auto table = app.app().routes();
  auto all = cases();

  // Every route has its rows; every case still has its route.
  std::set<std::string> routes;
  for (const auto& r : table.routes()) {
    routes.insert(key_of(r));
    EXPECT_TRUE(all.count(key_of(r))) << key_of(r) << " has no rows in the isolation matrix";
  }
  for (const auto& [key, _] : all)
    EXPECT_TRUE(routes.count(key)) << key << " is in the matrix but not in the route table";

  int worlds = 0;
  int requests = 0;
  for (const auto& route : table.routes()) {
    auto found = all.find(key_of(route));
    if (found == all.end()) continue;
    const Case& k = found->second;
    auto world = std::make_unique<World>(app, ++worlds);
    std::map<Who, std::vector<std::string>> held;
    for (Who w : kEveryone)
      if (w != Who::kNone) held[w] = permissions_of(app, world->actors[w]);

    for (Who who : kEveryone) {
      for (Target target : k.targets) {
        SCOPED_TRACE(key_of(route) + " as " + name(who) + ", " + name(target) + " target");
        // The generic rule (API.md's order of checks), then the route's own exceptions.
        int expected = k.ok;
        const bool is_public = route.access.kind() == http::Access::Kind::kPublic;
        std::optional<int> special = k.special ? k.special(who, target) : std::nullopt;
        if (!is_public && who == Who::kNone) {
          expected = 401;
        } else if (route.access.kind() == http::Access::Kind::kPermission &&
                   !access::allows(held[who], route.access.permission())) {
          expected = 403;
        } else if (special) {
          expected = *special;
        } else if (target == Target::kOwn && who == Who::kGlobalSuperAdmin && k.orgless) {
          expected = k.orgless;
        } else if (target == Target::kOther) {
          expected = k.super_crosses && is_super(who) ? k.ok : k.other;
        } else if (target == Target::kMissing) {
          expected = k.missing;
        }

        const std::string before = world->other_rows();
        Call call = k.make(*world, target, who);
        const std::string bearer = who == Who::kNone ? "" : world->actors[who].token;
        Reply r = app.call(route.method, call.target, call.body, bearer);
        ++requests;
        EXPECT_EQ(r.status, expected) << call.target << " " << r.raw;
        if (r.status >= 400) {
          EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json") << r.raw;
        }

        // Nothing of the other tenant changed...
        EXPECT_EQ(world->other_rows(), before);
        // ...nor shown, but where the super admin may cross.
        const bool may_show = k.super_crosses && is_super(who);
        if (!may_show) {
          for (const auto& secret : world->other_secrets())
            EXPECT_EQ(r.raw.find(secret), std::string::npos)
                << "the answer shows the other tenant's " << secret << ": " << r.raw;
        }
        if (k.empty_unless_own && target != Target::kOwn && r.status == 200) {
          EXPECT_TRUE(r.body["items"].empty()) << r.raw;
        }

        if (k.destroys && r.status < 300) world = std::make_unique<World>(app, ++worlds);
      }
    }
  }
  EXPECT_GT(requests, static_cast<int>(table.routes().size()) * 6);
}

INSTANTIATE_TEST_SUITE_P(Backends, IsolationMatrix,
                         ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::app
