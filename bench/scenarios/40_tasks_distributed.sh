# Tasks end to end: POST /api/agents/{id}/tasks accepted by `serve` and run by the echo executor,
# in embedded mode (SQLite, in-process queue and workers) and distributed mode (PostgreSQL through
# PgBouncer, RabbitMQ quorum queue with publisher confirms, one `atrium worker`), in the same run. Accepted = the API's answers
# (wrk); completed and end-to-end latency = from each task's created_at to finished_at in the
# database, over every task accepted. A third row measures the distributed accept path alone, as
# PERFORMANCE.md's Node.js figure is taken: wrk -t1 -c64 with no worker running, then a worker
# started after the window runs every accepted task (nothing lost).

BENCH_TASK_WORKERS=${BENCH_TASK_WORKERS:-4}

# Runs SQL (a query printing one line, fields separated by spaces) on the run's database: the
# SQLite file (embedded) or, as the superuser past row-level security, the PostgreSQL database.
bench_tasks_sql() {
  if [ "$BENCH_TASKS_MODE" != embedded ]; then
    psql -X -q -At -F ' ' -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" \
      -U postgres -d "$BENCH_TASKS_DB" -c "$1"
  else
    sqlite3 -separator ' ' "$ATRIUM_TMP/atrium.db" "$1"
  fi
}

# Starts one `atrium worker` with the environment given (VAR=value ...); sets BENCH_WORKER_PID
# once it is ready.
bench_tasks_worker() {
  env "$@" ATRIUM_DATA_DIR="$ATRIUM_TMP" ATRIUM_LISTEN=127.0.0.1:0 \
    "$BUILD/atrium" worker >"$ATRIUM_TMP/worker.log" 2>&1 &
  BENCH_WORKER_PID=$!
  for _ in $(seq 1 200); do
    grep -q '"msg":"worker ready"' "$ATRIUM_TMP/worker.log" 2>/dev/null && break
    sleep 0.05
  done
}

# A fresh PostgreSQL database named PREFIX_<random> in BENCH_TASKS_DB, and the settings of a
# distributed run on it (PgBouncer, RabbitMQ under the same prefix) appended to the caller's `env`.
bench_tasks_fresh_database() {
  BENCH_TASKS_DB="$1_$RANDOM$RANDOM"
  psql -X -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" -U postgres \
    -d postgres -c "CREATE DATABASE $BENCH_TASKS_DB OWNER atrium_owner" >/dev/null
  env+=(ATRIUM_BROKER_URL="$ATRIUM_TEST_RABBITMQ" ATRIUM_BROKER_PREFIX="$BENCH_TASKS_DB"
    ATRIUM_DATABASE_URL="postgresql://atrium@$ATRIUM_TEST_PGBOUNCER/$BENCH_TASKS_DB"
    ATRIUM_DATABASE_MIGRATION_URL="postgresql://atrium_owner@$ATRIUM_TEST_PGBOUNCER/$BENCH_TASKS_DB")
}

# bench_tasks_once MODE → "accepted_rps accept_p99_ms completed_per_s e2e_p50_ms e2e_p99_ms tasks
# total"
# Embedded: `serve` alone on its SQLite file. Distributed, as deployed: `serve` and one
# `atrium worker` on a fresh PostgreSQL database through PgBouncer (transaction pooling) and
# RabbitMQ, all from scripts/test-services. Accept: as distributed, but wrk -c64 after a warm-up
# with no worker running; the worker starts after the window, and completed/s is its drain rate
# (end-to-end latencies would only measure the wait for it: "-").
bench_tasks_once() {
  local mode=$1 env=(ATRIUM_LOG_LEVEL=info ATRIUM_WORKERS="$BENCH_TASK_WORKERS"
    ATRIUM_TENANT_MAX_RUNNING="$BENCH_TASK_WORKERS" ATRIUM_TENANT_MAX_QUEUED=1000000)
  BENCH_TASKS_MODE=$mode
  if [ "$mode" != embedded ]; then
    bench_tasks_fresh_database bench_tasks
  fi
  start_atrium "${env[@]}"
  BENCH_WORKER_PID=""
  [ "$mode" = distributed ] && bench_tasks_worker "${env[@]}"
  local token agent
  token=$(bench_signup "$ATRIUM_PORT" tasks@bench.example "bench password 123")
  agent=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","executor":"echo"}' | jq -r .id)
  local lua="$ATRIUM_TMP/post.lua"
  cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input":{"bench":true}}'
LUA
  local accepted url="http://127.0.0.1:$ATRIUM_PORT/api/agents/$agent/tasks" clients=16 bound=1200
  if [ "$mode" = accept ]; then
    clients=64
    bound=6000  # the worker drains the whole backlog after the window
    wrk -t1 -c$clients -d "${BENCH_WARMUP}s" -s "$lua" -H "Authorization: Bearer $token" "$url" \
      >/dev/null 2>&1 || true
  fi
  # Accept only: every process's CPU over the window, until the relay has published the last
  # accepted task, divided by the tasks accepted (wrk's own is this shell's reaped children's).
  local cpu0="" shell=$BASHPID
  [ "$mode" = accept ] && cpu0=$(bench_accept_cpu "$shell")
  accepted=$(wrk_once "$url" -t1 -c$clients -d "${BENCH_DURATION}s" -s "$lua" \
    -H "Authorization: Bearer $token")
  local cpu=""
  if [ "$mode" = accept ]; then
    for _ in $(seq 1 600); do
      [ "$(bench_tasks_sql "SELECT count(*) FROM outbox WHERE published_at IS NULL")" = 0 ] && break
      sleep 0.1
    done
    cpu=$(bench_accept_cpu_per_task "$cpu0" "$(bench_accept_cpu "$shell")" \
      "$(awk -v r="${accepted%% *}" -v d="$BENCH_DURATION" 'BEGIN {printf "%.0f", r * d}')")
  fi
  local drain_start
  drain_start=$(date +%s.%N)
  [ "$mode" = accept ] && bench_tasks_worker "${env[@]}"
  # Drained: nothing queued or running (bounded).
  for _ in $(seq 1 "$bound"); do
    [ "$(bench_tasks_sql "SELECT count(*) FROM tasks WHERE status IN ('queued','running')")" = 0 ] &&
      break
    sleep 0.1
  done
  local stats
  if [ "$mode" = accept ]; then
    stats=$(bench_tasks_sql "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM tasks" |
      awk -v s="$(echo "$(date +%s.%N) - $drain_start" | bc)" '{printf "%.0f - - %d %d", $1 / s, $1, $2}')
  elif [ "$mode" = distributed ]; then
    stats=$(bench_tasks_sql "
      WITH d AS (SELECT EXTRACT(EPOCH FROM finished_at - created_at) * 1000.0 AS ms
                 FROM tasks WHERE status = 'succeeded')
      SELECT round((SELECT count(*) FROM d) / EXTRACT(EPOCH FROM
               (SELECT max(finished_at) - min(created_at) FROM tasks))),
             round(percentile_disc(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             round(percentile_disc(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             count(*), (SELECT count(*) FROM tasks)
      FROM d")
  else
    stats=$(bench_tasks_sql "
      WITH d AS (SELECT (julianday(finished_at) - julianday(created_at)) * 86400000.0 AS ms
                 FROM tasks WHERE status = 'succeeded'),
           n AS (SELECT count(*) AS c FROM d)
      SELECT
        printf('%.0f', (SELECT c FROM n) / ((julianday((SELECT max(finished_at) FROM tasks))
                         - julianday((SELECT min(created_at) FROM tasks))) * 86400.0)),
        printf('%.1f', (SELECT ms FROM d ORDER BY ms LIMIT 1 OFFSET (SELECT c / 2 FROM n))),
        printf('%.1f', (SELECT ms FROM d ORDER BY ms LIMIT 1 OFFSET (SELECT c * 99 / 100 FROM n))),
        (SELECT c FROM n),
        (SELECT count(*) FROM tasks)")
  fi
  [ -n "$BENCH_WORKER_PID" ] && { kill "$BENCH_WORKER_PID" 2>/dev/null || true; wait "$BENCH_WORKER_PID" 2>/dev/null || true; }
  stop_atrium
  if [ "$mode" != embedded ]; then
    psql -X -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" -U postgres \
      -d postgres -c "DROP DATABASE IF EXISTS $BENCH_TASKS_DB WITH (FORCE)" >/dev/null || true
  fi
  read -r a_rps _ a_p99 <<<"$accepted"
  read -r c_rate e_p50 e_p99 finished total <<<"$stats"
  [ "$finished" = "$total" ] || echo "bench: $mode: only $finished of $total tasks succeeded" >&2
  echo "$a_rps $a_p99 $c_rate $e_p50 $e_p99 $finished $total $cpu"
}

# bench_accept_cpu SHELL_PID → the accept path's CPU counters, one line: "serve postgres pgbouncer
# rabbitmq wrk xacts" in ticks (PostgreSQL's as a snapshot file's name; wrk's as the reaped
# children of the shell that ran it) and PgBouncer's transaction count for the run's database.
bench_accept_cpu() {
  local pg
  pg=$(mktemp -p "$ATRIUM_TMP")
  bench_pg_snapshot >"$pg"
  echo "$(bench_cpu_ticks "$ATRIUM_PID") $pg" \
    "$(bench_cpu_ticks "$(cat "$ATRIUM_TEST_SERVICES_DIR/pgbouncer/pgbouncer.pid")")" \
    "$(bench_cpu_ticks "$(cat "$ATRIUM_TEST_SERVICES_DIR/rabbitmq/rabbitmq.pid")")" \
    "$(awk '{print $16 + $17}' "/proc/$1/stat")" "$(bench_bouncer_xacts "$BENCH_TASKS_DB")"
}

# bench_accept_cpu_per_task BEFORE AFTER TASKS → "serve postgres pgbouncer rabbitmq wrk total
# xacts" in CPU ms (transactions) per accepted task.
bench_accept_cpu_per_task() {
  local s0 p0 g0 b0 w0 x0 s1 p1 g1 b1 w1 x1
  read -r s0 p0 g0 b0 w0 x0 <<<"$1"
  read -r s1 p1 g1 b1 w1 x1 <<<"$2"
  awk -v n="$3" -v hz="$(getconf CLK_TCK)" -v s=$((s1 - s0)) \
    -v p="$(bench_pg_ticks_between "$p0" "$p1")" -v g=$((g1 - g0)) -v b=$((b1 - b0)) \
    -v w=$((w1 - w0)) -v x=$((x1 - x0)) 'BEGIN {
      if (n == 0) n = 1
      ms = 1000 / hz / n
      printf "%.3f %.3f %.3f %.3f %.3f %.3f %.2f\n", s * ms, p * ms, g * ms, b * ms, w * ms,
        (s + p + g + b + w) * ms, x / n }'
}

# The median run of BENCH_RUNS, by completed/s (by accepted/s for MODE accept).
bench_tasks_median() {
  local key=3
  [ "$1" = accept ] && key=1
  for _ in $(seq 1 "$BENCH_RUNS"); do bench_tasks_once "$1"; done |
    sort -n -k$key | awk -v n="$BENCH_RUNS" 'NR == int((n + 1) / 2)'
}

scenario_tasks_distributed() {
  if [ -z "${ATRIUM_TEST_RABBITMQ:-}" ] || [ -z "${ATRIUM_TEST_PGBOUNCER:-}" ]; then
    printf '## Tasks end to end\n\nSkipped: needs PostgreSQL, PgBouncer and RabbitMQ (scripts/test-services).\n\n'
    return 0
  fi
  local embedded distributed accept
  embedded=$(bench_tasks_median embedded)
  distributed=$(bench_tasks_median distributed)
  accept=$(bench_tasks_median accept)
  read -r ea eap ec ep50 ep99 en _ <<<"$embedded"
  read -r da dap dc dp50 dp99 dn _ <<<"$distributed"
  read -r aa aap ac _ _ an at as apg ab ar aw atot ax <<<"$accept"
  local lost="all $at completed"
  [ "$an" = "$at" ] || lost="**only $an of $at completed**"
  cat <<MD
## Tasks end to end (embedded vs RabbitMQ)

\`wrk -t1 -c16 -d${BENCH_DURATION}s\` POSTing \`{"input":{"bench":true}}\` to
\`/api/agents/{id}/tasks\` (echo executor, ${BENCH_TASK_WORKERS} workers, one organization), then
waiting until every accepted task has run; median of ${BENCH_RUNS} runs (by completed/s), each on
a fresh server. *Accepted* is the API's rate (202s) and its p99; *completed* is tasks finished
per second from the first task's creation to the last one's end; *end to end* is each task's
\`finished_at − created_at\`. Embedded: one \`serve\` on its SQLite file, in-process queue and
workers (the laptop default). Distributed, as deployed: \`serve\` and one \`atrium worker\` on
PostgreSQL 15 through PgBouncer (transaction pooling, 20 server connections per database and
role) — a fresh database per run — and RabbitMQ:
\`serve\` relays the outbox to a quorum queue (publisher confirms), the worker consumes (manual
acks after the result is committed). All on this one machine, so the distributed figures include
every service's CPU on the same cores.

| mode | accepted/s | accept p99 | completed/s | end to end p50 | end to end p99 | tasks |
|---|---|---|---|---|---|---|
| embedded | $ea | $eap ms | $ec | $ep50 ms | $ep99 ms | $en |
| distributed (RabbitMQ) | $da | $dap ms | $dc | $dp50 ms | $dp99 ms | $dn |
| distributed, accept only: wrk -t1 -c64, worker started after the window | $aa | $aap ms | $ac (drain) | – | – | $lost |

The last row is the accept path alone, measured as PERFORMANCE.md's Node.js figure for
\`POST /api/agents/{id}/tasks\` (PostgreSQL + RabbitMQ: ≈ 1.8k req/s, p99 ≈ 110 ms; target
≥ 3k req/s, nothing lost): \`wrk -t1 -c64 -d${BENCH_DURATION}s\` after a ${BENCH_WARMUP} s
warm-up, with \`serve\` relaying to RabbitMQ and no worker consuming; then one worker is started
and runs every task accepted (warm-up included) — its drain rate is the completed/s shown. Median
of ${BENCH_RUNS} runs by accepted/s.

Where that row's CPU goes: each process's CPU time (utime + stime from /proc; PostgreSQL's backends
included; wrk's own too, it shares the cores) from the window's start until the relay has
published the last accepted task, divided by the tasks accepted in the window.

| CPU ms per accepted task: serve | PostgreSQL | PgBouncer | RabbitMQ | wrk | total | PgBouncer transactions per task |
|---|---|---|---|---|---|---|
| $as | $apg | $ab | $ar | $aw | $atot | $ax |

MD
}

# The worker side alone, distributed mode: BENCH_DRAIN_TASKS tasks are queued with no worker
# running (accepted by `serve`, relayed to the quorum queue), then one `atrium worker` drains them.
# CPU is read from /proc/PID/stat (utime + stime, children included for PostgreSQL's backends)
# for each process before the worker starts and once nothing is queued or running, so the figures
# hold on a loaded machine better than the drain time does.
BENCH_DRAIN_TASKS=${BENCH_DRAIN_TASKS:-2000}

# CPU ticks of a process (its own, and its waited-for children's).
bench_cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# The PostgreSQL server's CPU ticks as "pid ticks" lines: the postmaster's own (utime + stime),
# its reaped children's (cutime + cstime, as pid "reaped") and each live backend's.
bench_pg_snapshot() {
  local pm child
  pm=$(head -1 "$ATRIUM_TEST_SERVICES_DIR/postgres/data/postmaster.pid")
  awk -v pm="$pm" '{print pm, $14 + $15; print "reaped", $16 + $17}' "/proc/$pm/stat"
  for child in $(pgrep -P "$pm"); do
    awk -v c="$child" '{print c, $14 + $15}' "/proc/$child/stat" 2>/dev/null || true
  done
}

# The PostgreSQL server's CPU ticks between two snapshots (files). A backend that exited in
# between was reaped with all its ticks, earlier ones included: those are taken off.
bench_pg_ticks_between() {
  awk 'FNR == NR {before[$1] = $2; next}
    {after[$1] = $2}
    END {
      total = after["reaped"] - before["reaped"]
      for (p in after) if (p != "reaped") total += after[p] - (p in before ? before[p] : 0)
      for (p in before) if (p != "reaped" && !(p in after)) total -= before[p]
      print total
    }' "$1" "$2"
}

# PgBouncer's transaction count for a database.
bench_bouncer_xacts() {
  psql -X -q -At -F ' ' -h "${ATRIUM_TEST_PGBOUNCER%:*}" -p "${ATRIUM_TEST_PGBOUNCER##*:}" \
    -U postgres -d pgbouncer -c "SHOW STATS" | awk -v db="$1" '$1 == db {print $2}'
}

# bench_drain_once → "tasks_per_s drain_s worker_ms postgres_ms pgbouncer_ms rabbitmq_ms serve_ms
# total_ms bouncer_xacts_per_task succeeded queued"
bench_drain_once() {
  local env=(ATRIUM_LOG_LEVEL=info ATRIUM_WORKERS="$BENCH_TASK_WORKERS"
    ATRIUM_TENANT_MAX_RUNNING="$BENCH_TASK_WORKERS" ATRIUM_TENANT_MAX_QUEUED=1000000)
  BENCH_TASKS_MODE=distributed
  bench_tasks_fresh_database bench_drain
  start_atrium "${env[@]}"
  local token agent lua="$ATRIUM_TMP/post.lua"
  token=$(bench_signup "$ATRIUM_PORT" drain@bench.example "bench password 123")
  agent=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","executor":"echo"}' | jq -r .id)
  cat >"$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input":{"bench":true}}'
local n = 0
response = function(status) n = n + 1; if n >= $BENCH_DRAIN_TASKS then wrk.thread:stop() end end
LUA
  wrk -t1 -c4 -d60s -s "$lua" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$ATRIUM_PORT/api/agents/$agent/tasks" >/dev/null
  # Every accepted task is in the queue before the worker starts (bounded).
  for _ in $(seq 1 600); do
    [ "$(bench_tasks_sql "SELECT count(*) FROM outbox WHERE published_at IS NULL")" = 0 ] && break
    sleep 0.1
  done
  local queued beam bouncer
  queued=$(bench_tasks_sql "SELECT count(*) FROM tasks")
  beam=$(cat "$ATRIUM_TEST_SERVICES_DIR/rabbitmq/rabbitmq.pid")
  bouncer=$(cat "$ATRIUM_TEST_SERVICES_DIR/pgbouncer/pgbouncer.pid")
  local b0 g0 s0 x0 t0
  b0=$(bench_cpu_ticks "$beam")
  bench_pg_snapshot >"$ATRIUM_TMP/pg0"
  g0=$(bench_cpu_ticks "$bouncer")
  s0=$(bench_cpu_ticks "$ATRIUM_PID")
  x0=$(bench_bouncer_xacts "$BENCH_TASKS_DB")
  t0=$(date +%s.%N)
  env "${env[@]}" ATRIUM_DATA_DIR="$ATRIUM_TMP" ATRIUM_LISTEN=127.0.0.1:0 \
    "$BUILD/atrium" worker >"$ATRIUM_TMP/worker.log" 2>&1 &
  local worker_pid=$!
  for _ in $(seq 1 6000); do
    [ "$(bench_tasks_sql "SELECT count(*) FROM tasks WHERE status IN ('queued','running')")" = 0 ] &&
      break
    sleep 0.05
  done
  local t1 w b1 p g1 s1 x1 done_count
  t1=$(date +%s.%N)
  w=$(bench_cpu_ticks "$worker_pid")
  b1=$(bench_cpu_ticks "$beam")
  bench_pg_snapshot >"$ATRIUM_TMP/pg1"
  p=$(bench_pg_ticks_between "$ATRIUM_TMP/pg0" "$ATRIUM_TMP/pg1")
  g1=$(bench_cpu_ticks "$bouncer")
  s1=$(bench_cpu_ticks "$ATRIUM_PID")
  x1=$(bench_bouncer_xacts "$BENCH_TASKS_DB")
  done_count=$(bench_tasks_sql "SELECT count(*) FROM tasks WHERE status = 'succeeded'")
  kill "$worker_pid" 2>/dev/null || true
  wait "$worker_pid" 2>/dev/null || true
  stop_atrium
  psql -X -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES##*:}" -U postgres \
    -d postgres -c "DROP DATABASE IF EXISTS $BENCH_TASKS_DB WITH (FORCE)" >/dev/null || true
  [ "$done_count" = "$queued" ] || echo "bench: drain: only $done_count of $queued tasks succeeded" >&2
  awk -v n="$done_count" -v q="$queued" -v t="$(echo "$t1 - $t0" | bc)" -v hz="$(getconf CLK_TCK)" \
    -v w="$w" -v p="$p" -v g=$((g1 - g0)) -v b=$((b1 - b0)) -v s=$((s1 - s0)) \
    -v x=$((x1 - x0)) 'BEGIN {
      if (n == 0) n = 1
      ms = 1000 / hz / n
      printf "%.0f %.2f %.3f %.3f %.3f %.3f %.3f %.3f %.2f %d %d\n", n / t, t, w * ms, p * ms,
        g * ms, b * ms, s * ms, (w + p + g + b + s) * ms, x / n, n, q }'
}

scenario_tasks_drain() {
  if [ -z "${ATRIUM_TEST_RABBITMQ:-}" ] || [ -z "${ATRIUM_TEST_SERVICES_DIR:-}" ]; then
    printf '## Tasks drained by one worker\n\nSkipped: needs PostgreSQL, PgBouncer and RabbitMQ (scripts/test-services).\n\n'
    return 0
  fi
  local runs
  runs=$(for _ in $(seq 1 "$BENCH_RUNS"); do bench_drain_once; done | sort -n -k1)
  cat <<MD
## Tasks drained by one worker (distributed mode, worker side)

${BENCH_DRAIN_TASKS} echo tasks of one organization are accepted by \`serve\` and relayed to the
RabbitMQ quorum queue with no worker running; then one \`atrium worker\`
(${BENCH_TASK_WORKERS} threads, at most ${BENCH_TASK_WORKERS} running per organization) drains
them, on a fresh PostgreSQL database through PgBouncer (transaction pooling, 20 server
connections). *CPU per task* is each process's CPU time (utime + stime from /proc, PostgreSQL's
backends included) over the drain divided by the tasks completed: it holds on a busy machine
better than the drain time does. ${BENCH_RUNS} runs, slowest first.

| tasks/s | drain | CPU ms per task: worker | PostgreSQL | PgBouncer | RabbitMQ | serve | total | PgBouncer transactions per task | succeeded / queued |
|---|---|---|---|---|---|---|---|---|---|
$(awk '{printf "| %s | %s s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' <<<"$runs")

MD
}
