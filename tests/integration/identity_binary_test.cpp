// Identity through the real binary and real HTTP: sign-up, the bearer token, logout, and the
// operators' commands (token mint, admin create-superadmin).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace atrium {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using testing::TempDir;

const std::string kBinary = ATRIUM_BINARY;

std::uint16_t start(Process& p) {
  auto line = p.wait_for_line(
      [](const std::string& l) {
        auto j = json::parse(l, nullptr, false);
        return j.is_object() && j.value("msg", "") == "listening";
      },
      30s);
  if (!line) throw std::runtime_error("serve did not start: " + p.output());
  return json::parse(*line)["port"].get<std::uint16_t>();
}

testing::HttpResponse post(std::uint16_t port, const std::string& path, const json& body,
                           std::map<std::string, std::string> headers = {}) {
  headers["Content-Type"] = "application/json";
  return testing::request(port, "POST", path, body.dump(), headers);
}

class IdentityBinary : public ::testing::Test {
 protected:
  std::map<std::string, std::string> env() const {
    return {{"ATRIUM_DATA_DIR", dir_.path().string()},
            {"ATRIUM_WEB_ROOT", (dir_.path() / "no-web").string()}};
  }
  TempDir dir_;
};

TEST_F(IdentityBinary, SignupBearerAndLogoutOverHttp) {
  Process p({kBinary, "serve", "--listen", "127.0.0.1:0"}, env());
  const auto port = start(p);

  auto signup = post(port, "/api/auth/signup",
                     {{"email", "op@example.com"},
                      {"password", "a long enough password"},
                      {"organization_name", "Ops"}});
  ASSERT_EQ(signup.status, 201) << signup.body;
  const auto bundle = signup.json();
  const std::string token = bundle["access_token"];

  auto me = testing::request(port, "GET", "/api/me", {}, {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["user"]["email"], "op@example.com");
  EXPECT_EQ(me.header("cache-control"), "no-store");

  // Never from the query string.
  auto query = testing::request(port, "GET", "/api/me?access_token=" + token);
  EXPECT_EQ(query.status, 401);
  EXPECT_EQ(query.json()["code"], "unauthenticated");

  ASSERT_EQ(post(port, "/api/auth/logout", {{"refresh_token", bundle["refresh_token"]}}).status,
            204);
  int status = 200;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status != 401 && std::chrono::steady_clock::now() < deadline) {
    status =
        testing::request(port, "GET", "/api/me", {}, {{"Authorization", "Bearer " + token}}).status;
  }
  EXPECT_EQ(status, 401);

  // A second start keeps the key generated under the data dir and remembers the logout.
  p.signal(SIGTERM);
  ASSERT_TRUE(p.wait(15s));
  Process again({kBinary, "serve", "--listen", "127.0.0.1:0"}, env());
  const auto port2 = start(again);
  EXPECT_EQ(
      testing::request(port2, "GET", "/api/me", {}, {{"Authorization", "Bearer " + token}}).status,
      401);
  auto login = post(port2, "/api/auth/login",
                    {{"email", "op@example.com"}, {"password", "a long enough password"}});
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(testing::request(
                port2, "GET", "/api/me", {},
                {{"Authorization", "Bearer " + login.json()["access_token"].get<std::string>()}})
                .status,
            200);
}

TEST_F(IdentityBinary, OperatorsMintTokensAndCreateSuperAdmins) {
  auto e = env();
  auto weak =
      testing::run({kBinary, "admin", "create-superadmin", "--email", "root@example.com"}, [&] {
        auto x = e;
        x["ATRIUM_ADMIN_PASSWORD"] = "short";
        return x;
      }());
  EXPECT_EQ(weak.exit_code, 2) << weak.output;
  auto bad_email = testing::run({kBinary, "admin", "create-superadmin", "--email", "nope"}, [&] {
    auto x = e;
    x["ATRIUM_ADMIN_PASSWORD"] = "long enough pw";
    return x;
  }());
  EXPECT_EQ(bad_email.exit_code, 2);

  auto admin =
      testing::run({kBinary, "admin", "create-superadmin", "--email", "Root@Example.com"}, [&] {
        auto x = e;
        x["ATRIUM_ADMIN_PASSWORD"] = "root password 123";
        return x;
      }());
  ASSERT_EQ(admin.exit_code, 0) << admin.output;

  auto mint = testing::run({kBinary, "token", "mint", "--user", "root@example.com"}, e);
  ASSERT_EQ(mint.exit_code, 0) << mint.output;
  std::string token = mint.output;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  token = token.substr(token.rfind('\n') + 1);  // the last line is the token
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2) << mint.output;

  auto unknown = testing::run({kBinary, "token", "mint", "--user", "nobody@example.com"}, e);
  EXPECT_EQ(unknown.exit_code, 1);

  Process p({kBinary, "serve", "--listen", "127.0.0.1:0"}, e);
  const auto port = start(p);
  auto me = testing::request(port, "GET", "/api/me", {}, {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["permissions"], json({"*"}));
  EXPECT_TRUE(me.json()["organization"].is_null());
  auto login = post(port, "/api/auth/login",
                    {{"email", "root@example.com"}, {"password", "root password 123"}});
  EXPECT_EQ(login.status, 200) << login.body;
}

}  // namespace
}  // namespace atrium
