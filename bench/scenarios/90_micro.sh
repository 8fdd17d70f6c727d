# Google Benchmark micro-benchmarks (bench/micro).
scenario_micro() {
  local out
  out=$("$BUILD/bench/micro_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 2>/dev/null | awk '/_median/ {printf "| `%s` | %s %s |\n", $1, $2, $3}')
  cat <<MD
## Micro-benchmarks

\`build/bench/micro_bench --benchmark_repetitions=5\` (Google Benchmark), median CPU time per
operation. Targets (PERFORMANCE.md): permission check against 50 permissions with wildcards
≤ 50 ns, no allocation.

| benchmark | median time |
|---|---|
$out

MD
}
