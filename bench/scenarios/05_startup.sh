# Start to ready and idle footprint of `atrium serve` on the embedded default, and of `atrium
# worker` on PostgreSQL (through PgBouncer) + RabbitMQ (PERFORMANCE.md: start to ready ≤ 50 ms,
# worker cold start the same; idle RSS ≤ 20 MB).

BENCH_STARTS=${BENCH_STARTS:-11}   # starts per case; the median is reported

scenario_startup() {
  local out fresh existing
  out=$("$BUILD/bench/start_bench" "$BUILD/atrium" "$BENCH_STARTS")
  fresh=$(grep '^fresh ' <<<"$out")
  existing=$(grep '^existing ' <<<"$out")
  read -r _ f_med f_min f_max f_rss <<<"$fresh"
  read -r _ e_med e_min e_max e_rss <<<"$existing"
  local worker_row="| \`atrium worker\` | not measured: \`scripts/test-services\` is not available here | | | |"
  if [ -n "${ATRIUM_TEST_PGBOUNCER:-}" ] && [ -n "${ATRIUM_TEST_RABBITMQ:-}" ]; then
    # The worker never migrates (the schema is serve's or `atrium migrate`'s): migrate once first.
    local db="atrium_start_$$" w_med w_min w_max w_rss
    psql -X -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" -U postgres \
      -d postgres -c "CREATE DATABASE $db OWNER atrium_owner" >/dev/null
    local env=(ATRIUM_DATABASE_URL="postgresql://atrium@$ATRIUM_TEST_PGBOUNCER/$db"
      ATRIUM_DATABASE_MIGRATION_URL="postgresql://atrium_owner@$ATRIUM_TEST_PGBOUNCER/$db"
      ATRIUM_BROKER_URL="$ATRIUM_TEST_RABBITMQ" ATRIUM_BROKER_PREFIX="$db")
    env "${env[@]}" ATRIUM_LOG_LEVEL=warn "$BUILD/atrium" migrate >/dev/null
    read -r _ w_med w_min w_max w_rss < <(env "${env[@]}" "$BUILD/bench/start_bench" \
      "$BUILD/atrium" "$BENCH_STARTS" worker)
    psql -X -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" -U postgres \
      -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
    worker_row="| \`atrium worker\` (PostgreSQL via PgBouncer + RabbitMQ, schema present) | $w_med ms | $w_min ms | $w_max ms | $((w_rss / 1024)) MiB |"
  fi
  cat <<MD
## Startup: \`atrium serve\` and \`atrium worker\` to ready

\`build/bench/start_bench build/atrium $BENCH_STARTS [worker]\`: the time from exec to the first 200
from \`/readyz\` (polled every 0.5 ms from outside, so it includes the dynamic loader and static
initialisation), one process at a time, $BENCH_STARTS starts per case; RSS is the process's resident
set right after it answered ready (median). \`serve\` on the embedded default; the worker's
\`/readyz\` answers 200 once its database and broker connections work.

| process | median | min | max | RSS when ready |
|---|---|---|---|---|
| \`atrium serve\`, fresh data directory (migrations + seed from nothing) | $f_med ms | $f_min ms | $f_max ms | $((f_rss / 1024)) MiB |
| \`atrium serve\`, existing data directory (a restart) | $e_med ms | $e_min ms | $e_max ms | $((e_rss / 1024)) MiB |
$worker_row

Targets (PERFORMANCE.md): start to ready ≤ 50 ms (embedded), worker cold start the same; idle RSS
≤ 20 MB.

MD
}
