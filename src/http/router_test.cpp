#include "http/router.hpp"

#include <gtest/gtest.h>

namespace atrium::http {
namespace {

Handler named(std::string name) {
  return [name](Request&) -> Result<Response> { return Response::json(200, {{"h", name}}); };
}

Router sample() {
  Router r;
  r.add({Method::kGet, "/api/orgs", Access::authenticated(), named("list")});
  r.add({Method::kPost, "/api/orgs", Access::authenticated(), named("create")});
  r.add({Method::kGet, "/api/orgs/{id}", Access::permission("org:read"), named("get")});
  r.add({Method::kPut, "/api/orgs/{id}/secrets/{name}", Access::permission("org:manage"),
         named("secret")});
  r.add({Method::kGet, "/api/orgs/special", Access::anyone(), named("special")});
  return r;
}

TEST(Router, MatchesLiteralAndParameters) {
  auto r = sample();
  auto m = r.match(Method::kGet, "/api/orgs/abc");
  ASSERT_EQ(m.outcome, Router::Match::Outcome::kFound);
  EXPECT_EQ(m.route->path, "/api/orgs/{id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "abc");

  auto s = r.match(Method::kPut, "/api/orgs/o1/secrets/llm%5Fapi%5Fkey");
  ASSERT_EQ(s.outcome, Router::Match::Outcome::kFound);
  EXPECT_EQ(s.params[1].second, "llm_api_key");
}

TEST(Router, LiteralSegmentsWin) {
  auto r = sample();
  auto m = r.match(Method::kGet, "/api/orgs/special");
  ASSERT_EQ(m.outcome, Router::Match::Outcome::kFound);
  EXPECT_EQ(m.route->path, "/api/orgs/special");
}

TEST(Router, KnownPathOtherMethodIs405WithAllow) {
  auto r = sample();
  auto m = r.match(Method::kDelete, "/api/orgs");
  EXPECT_EQ(m.outcome, Router::Match::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(Router, UnknownPathIs404) {
  auto r = sample();
  EXPECT_EQ(r.match(Method::kGet, "/api/nope").outcome, Router::Match::Outcome::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/api/orgs/a/b").outcome, Router::Match::Outcome::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "").outcome, Router::Match::Outcome::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/api/orgs/").outcome, Router::Match::Outcome::kNotFound);
  // A parameter that does not decode matches nothing.
  EXPECT_EQ(r.match(Method::kGet, "/api/orgs/%zz").outcome, Router::Match::Outcome::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/api/orgs/a%00").outcome, Router::Match::Outcome::kNotFound);
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "/api";
  EXPECT_EQ(r.match(Method::kGet, deep).outcome, Router::Match::Outcome::kNotFound);
}

TEST(Router, SixteenSegmentsAtMost) {
  std::string path;
  for (int i = 0; i < 16; ++i) path += "/s" + std::to_string(i);
  Router r;
  r.add({Method::kGet, path, Access::anyone(), named("deep")});
  EXPECT_EQ(r.match(Method::kGet, path).outcome, Router::Match::Outcome::kFound);
  EXPECT_EQ(r.match(Method::kGet, path + "/s16").outcome, Router::Match::Outcome::kNotFound);
  EXPECT_THROW(r.add({Method::kGet, path + "/s16", Access::anyone(), named("deeper")}),
               std::invalid_argument);
}

TEST(Router, HeadFallsBackToGet) {
  auto r = sample();
  auto m = r.match(Method::kHead, "/api/orgs");
  ASSERT_EQ(m.outcome, Router::Match::Outcome::kFound);
  EXPECT_EQ(m.route->method, Method::kGet);
}

TEST(Router, RefusesDuplicatesAndMalformedTemplates) {
  Router r;
  r.add({Method::kGet, "/a/{id}", Access::anyone(), named("a")});
  EXPECT_THROW(r.add({Method::kGet, "/a/{id}", Access::anyone(), named("b")}),
               std::invalid_argument);
  EXPECT_THROW(r.add({Method::kGet, "a", Access::anyone(), named("c")}), std::invalid_argument);
  EXPECT_THROW(r.add({Method::kGet, "/a/{x", Access::anyone(), named("d")}), std::invalid_argument);
}

}  // namespace
}  // namespace atrium::http
