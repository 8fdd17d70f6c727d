// The member and invitation routes through the application's request path, with real tokens, on
// every database backend: API.md's Members table, invitations end to end, escalation, the last
// TENANT_ADMIN, revocation of removed and changed members.
#include <gtest/gtest.h>

#include "http/pagination.hpp"
#include "platform/ids.hpp"
#include "support/api_harness.hpp"

namespace atrium::tenancy {
namespace {

using atrium::testing::Actor;
using atrium::testing::concurrently;
using atrium::testing::expect_problem;
using atrium::testing::expect_whole;
using atrium::testing::kTestPassword;
using atrium::testing::walk;
using http::Method;
using nlohmann::json;

class MembersApi : public atrium::testing::ApiTest {
 protected:
  atrium::testing::Reply add(const Actor& who, const std::string& email, const std::string& role) {
    return app().call(Method::kPost, "/api/users", json{{"email", email}, {"role", role}},
                      who.token);
  }
  std::string invite(const std::string& email, const std::string& role = "USER") {
    auto r = add(admin_, email, role);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body["invitation"]["token"];
  }
};

TEST_P(MembersApi, ListAndGetMembers) {
  auto bob = app().member(admin_, "bob@acme.example", "USER");
  app().member(admin_, "carol@acme.example", "TENANT_ADMIN");
  app().signup("stranger@else.example", "Else");  // not a member

  auto r = app().call(Method::kGet, "/api/users", {}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  std::vector<std::string> emails;
  for (const auto& m : r.body["items"]) emails.push_back(m["email"]);
  EXPECT_EQ(emails, (std::vector<std::string>{"admin@acme.example", "bob@acme.example",
                                              "carol@acme.example"}));
  const auto& b = r.body["items"][1];
  EXPECT_EQ(b["id"], bob.user_id);
  EXPECT_EQ(b["name"], "Test bob");
  EXPECT_EQ(b["roles"], json({"USER"}));
  EXPECT_TRUE(b["joined_at"].is_string());

  auto page = app().call(Method::kGet, "/api/users?limit=2", {}, admin_.token);
  ASSERT_EQ(page.body["items"].size(), 2u);
  app().member(admin_, "aaron@acme.example", "USER");  // sorts first: not seen by the next page
  auto next = app().call(Method::kGet,
                         "/api/users?limit=2&cursor=" + page.body["next_cursor"].get<std::string>(),
                         {}, admin_.token);
  ASSERT_EQ(next.status, 200) << next.raw;
  ASSERT_EQ(next.body["items"].size(), 1u);
  EXPECT_EQ(next.body["items"][0]["email"], "carol@acme.example");
  EXPECT_TRUE(next.body["next_cursor"].is_null());

  auto one = app().call(Method::kGet, "/api/users/" + bob.user_id, {}, bob.token);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body, b);
  // The list writes its page as text (JsonText), a single member through nlohmann: the same bytes.
  EXPECT_NE(r.raw.find(one.raw), std::string::npos) << r.raw << "\n" << one.raw;
  EXPECT_EQ(r.raw, r.body.dump(-1, ' ', false, json::error_handler_t::replace));
  EXPECT_EQ(page.raw, page.body.dump(-1, ' ', false, json::error_handler_t::replace));
  expect_problem(app().call(Method::kGet, "/api/users/" + new_id(), {}, admin_.token), 404,
                 "not_found");
}

// Members are listed by email: a cursor must wrap one, as every list's must wrap its own key.
TEST_P(MembersApi, ListCursorMustBeOneTheListIssued) {
  for (const std::string& cursor : {std::string("%%%"), std::string("bogus"),
                                    http::make_cursor(new_id()), http::make_cursor("not an email")})
    expect_problem(app().call(Method::kGet, "/api/users?cursor=" + cursor, {}, admin_.token), 400,
                   "invalid_request");
  auto first = app().call(Method::kGet, "/api/users?limit=1", {}, admin_.token);
  ASSERT_EQ(first.status, 200) << first.raw;
  app().member(admin_, "bob@acme.example", "USER");
  auto next = app().call(Method::kGet,
                         "/api/users?limit=1&cursor=" + http::make_cursor("admin@acme.example"), {},
                         admin_.token);
  ASSERT_EQ(next.status, 200) << next.raw;
  EXPECT_EQ(next.body["items"][0]["email"], "bob@acme.example");
}

// Members joining while the list is walked (sorting before and after the cursor): nobody who was
// a member is skipped, nobody is seen twice.
TEST_P(MembersApi, PagesStayWholeWhileMembersJoin) {
  for (const char* name : {"c", "e", "g", "i", "k"})
    app().member(admin_, std::string(name) + "@acme.example", "USER");
  const auto before = walk(
      app(), "/api/users", admin_.token, "email", [] {}, 100);
  ASSERT_EQ(before.size(), 6u);
  int n = 0;
  auto seen = walk(app(), "/api/users", admin_.token, "email", [&] {
    ++n;
    app().member(admin_, "b" + std::to_string(n) + "@acme.example", "USER");
    app().member(admin_, "z" + std::to_string(n) + "@acme.example", "USER");
  });
  expect_whole(before, seen);
}

TEST_P(MembersApi, AddingAnExistingUserMakesAMembership) {
  auto eve = app().signup("eve@else.example", "Else");
  auto r = add(admin_, "EVE@else.example", "USER");
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_TRUE(r.body.contains("member")) << r.raw;
  EXPECT_FALSE(r.body.contains("invitation"));
  EXPECT_EQ(r.body["member"]["id"], eve.user_id);
  EXPECT_EQ(r.body["member"]["roles"], json({"USER"}));
  EXPECT_EQ(app().count("audit_log",
                        "action = 'member.add' AND target_type = 'user' AND "
                        "target_id = '" +
                            eve.user_id + "' AND organization_id = '" + admin_.org_id + "'"),
            1);
  expect_problem(add(admin_, "eve@else.example", "USER"), 409, "conflict");
  // Eve can now sign in there.
  auto in = app().login("eve@else.example", admin_.org_id);
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, in.token).status, 200);

  for (const auto& bad : {json{{"email", "not-an-email"}, {"role", "USER"}},
                          json{{"email", "x@y.example"}}, json{{"role", "USER"}},
                          json{{"email", "x@y.example"}, {"role", "USER"}, {"extra", true}}}) {
    expect_problem(app().call(Method::kPost, "/api/users", bad, admin_.token), 400,
                   "invalid_request");
  }
  auto unknown = add(admin_, "x@y.example", "GODS");
  expect_problem(unknown, 400, "invalid_request");
  EXPECT_EQ(unknown.body["errors"][0]["field"], "role");
  // SUPER_ADMIN is global, not an organization's role.
  expect_problem(add(admin_, "x@y.example", "SUPER_ADMIN"), 400, "invalid_request");
}

TEST_P(MembersApi, InvitationForANewAccount) {
  auto r = add(admin_, "New.Person@acme.example", "USER");
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_TRUE(r.body.contains("invitation"));
  const auto inv = r.body["invitation"];
  EXPECT_EQ(inv["email"], "new.person@acme.example");
  EXPECT_EQ(inv["role"], "USER");
  const std::string token = inv["token"];
  EXPECT_GE(token.size(), 40u);
  EXPECT_TRUE(inv["expires_at"].is_string());
  // Stored hashed only; audited without the token.
  EXPECT_EQ(app().count("invitations", "token_hash = '" + token + "'"), 0);
  EXPECT_EQ(app().count("invitations", "id = '" + inv["id"].get<std::string>() + "'"), 1);
  EXPECT_EQ(app().count("audit_log", "action = 'member.invite' AND target_id = '" +
                                         inv["id"].get<std::string>() + "'"),
            1);
  EXPECT_EQ(app().count("audit_log", "CAST(details AS TEXT) LIKE '%" + token + "%'"), 0);

  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", token}, {"password", "short"}}),
                 400, "invalid_request");
  expect_problem(app().call(Method::kPost, "/api/invitations/accept", json{{"token", token}}), 400,
                 "invalid_request");
  auto accepted =
      app().call(Method::kPost, "/api/invitations/accept",
                 json{{"token", token}, {"name", "New Person"}, {"password", kTestPassword}});
  ASSERT_EQ(accepted.status, 200) << accepted.raw;
  EXPECT_EQ(accepted.body["organization"]["id"], admin_.org_id);
  EXPECT_EQ(accepted.body["user"]["email"], "new.person@acme.example");
  EXPECT_EQ(accepted.body["user"]["name"], "New Person");
  EXPECT_EQ(accepted.body["permissions"],
            json({"agents:read", "org:read", "tasks:create", "tasks:read", "users:read"}));
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, accepted.body["access_token"]).status, 200);
  // The account signs in with its password.
  EXPECT_EQ(app().login("new.person@acme.example", admin_.org_id).org_id, admin_.org_id);
  const std::string user = accepted.body["user"]["id"];
  EXPECT_EQ(app().count("audit_log", "action = 'member.add' AND target_id = '" + user + "'"), 1);

  // Used once.
  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", token}, {"password", kTestPassword}}),
                 404, "not_found");
  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", "inv_nonsense"}, {"password", kTestPassword}}),
                 404, "not_found");
}

TEST_P(MembersApi, InvitationsExpireAndSupersede) {
  const std::string first = invite("late@acme.example");
  const std::string second = invite("late@acme.example");
  EXPECT_EQ(app().count("invitations", "email = 'late@acme.example'"), 1);
  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", first}, {"password", kTestPassword}}),
                 404, "not_found");
  app().clock().advance(std::chrono::hours(24 * 7 + 1));
  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", second}, {"password", kTestPassword}}),
                 404, "not_found");
  EXPECT_EQ(app().count("users", "email = 'late@acme.example'"), 0);
}

TEST_P(MembersApi, InvitationForSomeoneWhoSignedUpMeanwhile) {
  const std::string token = invite("later@acme.example", "TENANT_ADMIN");
  auto later = app().signup("later@acme.example", "Later's own");
  // Without a bearer: sign in first.
  expect_problem(app().call(Method::kPost, "/api/invitations/accept",
                            json{{"token", token}, {"password", kTestPassword}}),
                 401, "unauthenticated");
  // Someone else's bearer: not theirs to accept.
  auto other = app().signup("other@else.example", "Else");
  expect_problem(
      app().call(Method::kPost, "/api/invitations/accept", json{{"token", token}}, other.token),
      403, "permission_denied");
  auto ok =
      app().call(Method::kPost, "/api/invitations/accept", json{{"token", token}}, later.token);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["organization"]["id"], admin_.org_id);
  EXPECT_EQ(ok.body["user"]["id"], later.user_id);
  auto me = app().call(Method::kGet, "/api/users/" + later.user_id, {}, admin_.token);
  EXPECT_EQ(me.body["roles"], json({"TENANT_ADMIN"}));
}

TEST_P(MembersApi, PatchReplacesRolesAndCutsTheOldTokenOff) {
  auto bob = app().member(admin_, "bob@acme.example", "USER");
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, bob.token).status, 200);
  auto r = app().call(Method::kPatch, "/api/users/" + bob.user_id,
                      json{{"roles", {"TENANT_ADMIN", "USER"}}}, admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["roles"], json({"TENANT_ADMIN", "USER"}));
  EXPECT_EQ(
      app().count("audit_log", "action = 'member.update' AND target_id = '" + bob.user_id + "'"),
      1);
  expect_problem(app().call(Method::kGet, "/api/agents", {}, bob.token), 401, "unauthenticated");
  auto refreshed =
      app().call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", bob.refresh_token}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.raw;
  EXPECT_NE(std::find(refreshed.body["permissions"].begin(), refreshed.body["permissions"].end(),
                      "users:manage"),
            refreshed.body["permissions"].end());

  auto bad = app().call(Method::kPatch, "/api/users/" + bob.user_id,
                        json{{"roles", {"USER", "Nope"}}}, admin_.token);
  expect_problem(bad, 400, "invalid_request");
  EXPECT_EQ(bad.body["errors"][0]["field"], "roles[1]");
  expect_problem(app().call(Method::kPatch, "/api/users/" + bob.user_id,
                            json{{"roles", json::array()}}, admin_.token),
                 400, "invalid_request");
  expect_problem(app().call(Method::kPatch, "/api/users/" + bob.user_id,
                            json{{"roles", {"SUPER_ADMIN"}}}, admin_.token),
                 400, "invalid_request");
  // 404 before the body's rules.
  expect_problem(
      app().call(Method::kPatch, "/api/users/" + new_id(), json{{"roles", "x"}}, admin_.token), 404,
      "not_found");
}

TEST_P(MembersApi, NoEscalationThroughMembers) {
  // A member manager who cannot run agents.
  auto role = app().call(Method::kPost, "/api/roles",
                         json{{"name", "People"}, {"permissions", {"users:read", "users:manage"}}},
                         admin_.token);
  ASSERT_EQ(role.status, 201) << role.raw;
  auto hr = app().member(admin_, "hr@acme.example", "People");
  auto bob = app().member(admin_, "bob@acme.example", "People");
  // May add someone as People (what it holds), not as USER (agents:read, tasks:*), nor invite as
  // TENANT_ADMIN.
  EXPECT_EQ(add(hr, "new@acme.example", "People").status, 201);
  expect_problem(add(hr, "new2@acme.example", "USER"), 403, "privilege_escalation");
  expect_problem(add(hr, "new3@acme.example", "TENANT_ADMIN"), 403, "privilege_escalation");
  expect_problem(app().call(Method::kPatch, "/api/users/" + bob.user_id,
                            json{{"roles", {"TENANT_ADMIN"}}}, hr.token),
                 403, "privilege_escalation");
  expect_problem(app().call(Method::kPatch, "/api/users/" + hr.user_id,
                            json{{"roles", {"TENANT_ADMIN"}}}, hr.token),
                 403, "privilege_escalation");  // not even for oneself
  // Nor demote or remove someone above it.
  expect_problem(app().call(Method::kPatch, "/api/users/" + admin_.user_id,
                            json{{"roles", {"People"}}}, hr.token),
                 403, "privilege_escalation");
  expect_problem(app().call(Method::kDelete, "/api/users/" + admin_.user_id, {}, hr.token), 403,
                 "privilege_escalation");
  // Its peers are fair game.
  EXPECT_EQ(app().call(Method::kDelete, "/api/users/" + bob.user_id, {}, hr.token).status, 204);
  auto admin_now = app().call(Method::kGet, "/api/users/" + admin_.user_id, {}, admin_.token);
  EXPECT_EQ(admin_now.body["roles"], json({"TENANT_ADMIN"}));
}

TEST_P(MembersApi, TheLastAdminStays) {
  expect_problem(app().call(Method::kPatch, "/api/users/" + admin_.user_id,
                            json{{"roles", {"USER"}}}, admin_.token),
                 409, "conflict");
  expect_problem(app().call(Method::kDelete, "/api/users/" + admin_.user_id, {}, admin_.token), 409,
                 "conflict");
  auto carol = app().member(admin_, "carol@acme.example", "TENANT_ADMIN");
  // With two, one may step down; then the other is the last.
  auto r = app().call(Method::kPatch, "/api/users/" + admin_.user_id, json{{"roles", {"USER"}}},
                      admin_.token);
  ASSERT_EQ(r.status, 200) << r.raw;
  expect_problem(app().call(Method::kDelete, "/api/users/" + carol.user_id, {}, carol.token), 409,
                 "conflict");
  EXPECT_EQ(app().count("user_organization_roles",
                        "organization_id = '" + admin_.org_id +
                            "' AND role_id = (SELECT id FROM roles WHERE name = 'TENANT_ADMIN')"),
            1);
}

// Two admins demoting or removing each other at once, many times (PostgreSQL runs them
// concurrently): one wins, the other is refused, and the organization keeps its TENANT_ADMIN.
TEST_P(MembersApi, ConcurrentDemotionsKeepTheLastAdmin) {
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string n = std::to_string(round);
    auto a = app().signup("a" + n + "@race.example", "Race " + n);
    auto b = app().member(a, "b" + n + "@race.example", "TENANT_ADMIN");
    auto against = [&](const Actor& who, const Actor& target) {
      return [this, who, target, round] {
        const std::string path = "/api/users/" + target.user_id;
        return round % 2 ? app().call(Method::kDelete, path, {}, who.token)
                         : app().call(Method::kPatch, path, json{{"roles", {"USER"}}}, who.token);
      };
    };
    auto replies = concurrently({against(a, b), against(b, a)});
    int won = 0;
    for (const auto& r : replies) {
      if (r.status < 300) {
        ++won;
      } else {
        // Refused as the last admin, or cut off because the other's change came first.
        EXPECT_TRUE(r.status == 409 || r.status == 401) << r.raw;
      }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(app().count("user_organization_roles",
                          "organization_id = '" + a.org_id +
                              "' AND role_id = (SELECT id FROM roles WHERE name = 'TENANT_ADMIN')"),
              1);
  }
}

TEST_P(MembersApi, RemovingAMemberEndsTheirAccess) {
  auto bob = app().member(admin_, "bob@acme.example", "USER");
  auto key = app().api_key(admin_, {"agents:read"});
  auto r = app().call(Method::kDelete, "/api/users/" + bob.user_id, {}, admin_.token);
  EXPECT_EQ(r.status, 204) << r.raw;
  EXPECT_EQ(
      app().count("user_organization_roles",
                  "user_id = '" + bob.user_id + "' AND organization_id = '" + admin_.org_id + "'"),
      0);
  EXPECT_EQ(app().count("users", "id = '" + bob.user_id + "'"), 1);  // the identity stays
  EXPECT_EQ(
      app().count("audit_log", "action = 'member.remove' AND target_id = '" + bob.user_id + "'"),
      1);
  expect_problem(app().call(Method::kGet, "/api/agents", {}, bob.token), 401, "unauthenticated");
  expect_problem(
      app().call(Method::kPost, "/api/auth/refresh", json{{"refresh_token", bob.refresh_token}}),
      401, "unauthenticated");
  expect_problem(app().call(Method::kGet, "/api/users/" + bob.user_id, {}, admin_.token), 404,
                 "not_found");
  expect_problem(app().call(Method::kDelete, "/api/users/" + bob.user_id, {}, admin_.token), 404,
                 "not_found");
  // Other credentials are unaffected.
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, key.token).status, 200);
  EXPECT_EQ(app().call(Method::kGet, "/api/agents", {}, admin_.token).status, 200);
}

TEST_P(MembersApi, AnotherTenantsMembersAreNotFound) {
  auto other = app().signup("eve@evil.example", "Evil");
  auto mallory = app().member(other, "mallory@evil.example", "USER");
  for (const auto& id : {other.user_id, mallory.user_id}) {
    expect_problem(app().call(Method::kGet, "/api/users/" + id, {}, admin_.token), 404,
                   "not_found");
    expect_problem(
        app().call(Method::kPatch, "/api/users/" + id, json{{"roles", {"USER"}}}, admin_.token),
        404, "not_found");
    expect_problem(app().call(Method::kDelete, "/api/users/" + id, {}, admin_.token), 404,
                   "not_found");
  }
  auto list = app().call(Method::kGet, "/api/users", {}, admin_.token);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(
      app().call(Method::kGet, "/api/users/" + mallory.user_id, {}, other.token).body["roles"],
      json({"USER"}));
}

// Accepting an invitation to an organization one already belongs to is 409, and the invitation
// stays unused (it works once the membership has ended).
TEST_P(MembersApi, AcceptingWhenAlreadyAMemberLeavesTheInvitationUnused) {
  const std::string token = invite("twice@acme.example");
  auto twice = app().signup("twice@acme.example", "Twice's own");
  ASSERT_EQ(add(admin_, "twice@acme.example", "USER").status, 201);  // joined another way
  expect_problem(
      app().call(Method::kPost, "/api/invitations/accept", json{{"token", token}}, twice.token),
      409, "conflict");
  EXPECT_EQ(app().count("invitations", "email = 'twice@acme.example' AND accepted_at IS NULL",
                        admin_.org_id),
            1);
  EXPECT_EQ(app().count("audit_log", "action = 'member.add' AND target_id = '" + twice.user_id +
                                         "' AND CAST(details AS TEXT) LIKE '%invitation_id%'"),
            0);
  ASSERT_EQ(app().call(Method::kDelete, "/api/users/" + twice.user_id, {}, admin_.token).status,
            204);
  auto ok =
      app().call(Method::kPost, "/api/invitations/accept", json{{"token", token}}, twice.token);
  EXPECT_EQ(ok.status, 200) << ok.raw;
}

INSTANTIATE_TEST_SUITE_P(Backends, MembersApi, ::testing::ValuesIn(atrium::testing::api_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::tenancy
