// Permission check against 50 held permissions with wildcards (PERFORMANCE.md: ≤ 50 ns).
#include <benchmark/benchmark.h>

#include "access/permissions.hpp"

namespace {

std::vector<std::string> fifty() {
  std::vector<std::string> held;
  for (int i = 0; i < 48; ++i) held.push_back("resource" + std::to_string(i) + ":read");
  held.push_back("agents:*");
  held.push_back("tasks:read");
  return held;
}

void BM_AllowsWorstCase(benchmark::State& state) {
  auto held = fifty();
  for (auto _ : state) benchmark::DoNotOptimize(atrium::access::allows(held, "tasks:read"));
}
BENCHMARK(BM_AllowsWorstCase);

void BM_AllowsDenied(benchmark::State& state) {
  auto held = fifty();
  for (auto _ : state) benchmark::DoNotOptimize(atrium::access::allows(held, "audit:read"));
}
BENCHMARK(BM_AllowsDenied);

// The request path's form: the route's permission resolved to its catalog index when the routes
// are built, the principal's fifty permissions compiled once per verified token.
atrium::Principal compiled_fifty() {
  atrium::Principal p;
  p.permissions = fifty();
  p.catalog_grants = atrium::access::compile_grants(p.permissions);
  return p;
}

void BM_AllowsCompiled(benchmark::State& state) {
  const auto p = compiled_fifty();
  const int index = atrium::access::catalog_index("tasks:read");
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(atrium::access::allows(p, "tasks:read", index));
  }
}
BENCHMARK(BM_AllowsCompiled);

void BM_AllowsCompiledDenied(benchmark::State& state) {
  const auto p = compiled_fifty();
  const int index = atrium::access::catalog_index("audit:read");
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(atrium::access::allows(p, "audit:read", index));
  }
}
BENCHMARK(BM_AllowsCompiledDenied);

// What the check does for a permission outside the catalog: the scan.
void BM_AllowsCompiledCustomPermission(benchmark::State& state) {
  const auto p = compiled_fifty();
  const int index = atrium::access::catalog_index("resource47:read");
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(atrium::access::allows(p, "resource47:read", index));
  }
}
BENCHMARK(BM_AllowsCompiledCustomPermission);

// The once-per-token cost of compiling fifty permissions.
void BM_CompileGrants(benchmark::State& state) {
  auto held = fifty();
  for (auto _ : state) benchmark::DoNotOptimize(atrium::access::compile_grants(held));
}
BENCHMARK(BM_CompileGrants);

}  // namespace
