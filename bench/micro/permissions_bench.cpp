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

}  // namespace
