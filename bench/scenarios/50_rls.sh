# Row-level security on and off for a tenant-scoped list of 50 agents, through PostgreSQL and
# PgBouncer (bench/db/rls_bench.cpp; the section is written by scripts/bench-rls).
scenario_rls() {
  scripts/bench-rls "$BUILD" "${BENCH_RLS_REPETITIONS:-9}"
  echo
}
