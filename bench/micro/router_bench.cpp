// Route matching over a table the size of the API's.
#include <benchmark/benchmark.h>

#include "http/router.hpp"

namespace {

atrium::http::Router table() {
  using namespace atrium::http;
  Router r;
  auto h = [](Request&) -> atrium::Result<Response> { return Response{}; };
  for (const char* p : {"/api/auth/signup",
                        "/api/auth/login",
                        "/api/auth/refresh",
                        "/api/auth/logout",
                        "/api/auth/switch",
                        "/api/me",
                        "/api/orgs",
                        "/api/orgs/{id}",
                        "/api/orgs/{id}/secrets/{name}",
                        "/api/users",
                        "/api/users/{id}",
                        "/api/invitations/accept",
                        "/api/permissions",
                        "/api/roles",
                        "/api/roles/{id}",
                        "/api/agents",
                        "/api/agents/{id}",
                        "/api/agents/{id}/tasks",
                        "/api/tasks",
                        "/api/tasks/{id}",
                        "/api/tasks/{id}/cancel",
                        "/api/api-keys",
                        "/api/api-keys/{id}",
                        "/api/audit",
                        "/api/realtime/ticket",
                        "/healthz",
                        "/readyz",
                        "/metrics"}) {
    r.add({Method::kGet, p, Access::anyone(), h});
  }
  return r;
}

void BM_MatchParameterised(benchmark::State& state) {
  auto r = table();
  for (auto _ : state)
    benchmark::DoNotOptimize(r.match(atrium::http::Method::kGet,
                                     "/api/tasks/0190b3c2-5a4e-7c3d-8e9f-0a1b2c3d4e5f/cancel"));
}
BENCHMARK(BM_MatchParameterised);

void BM_MatchLiteral(benchmark::State& state) {
  auto r = table();
  for (auto _ : state) benchmark::DoNotOptimize(r.match(atrium::http::Method::kGet, "/api/me"));
}
BENCHMARK(BM_MatchLiteral);

}  // namespace
