# Tasks end to end: POST /api/agents/{id}/tasks accepted by `serve` and run by the echo executor,
# in embedded mode (in-process queue and workers) and distributed mode (RabbitMQ quorum queue with
# publisher confirms, one `atrium worker`), in the same run. Accepted = the API's answers
# (wrk); completed and end-to-end latency = from each task's created_at to finished_at in the
# database, over every task accepted.

BENCH_TASK_WORKERS=${BENCH_TASK_WORKERS:-4}

# bench_tasks_once MODE → "accepted_rps accept_p99_ms completed_per_s e2e_p50_ms e2e_p99_ms tasks"
bench_tasks_once() {
  local mode=$1 env=(ATRIUM_LOG_LEVEL=info ATRIUM_WORKERS="$BENCH_TASK_WORKERS"
    ATRIUM_TENANT_MAX_RUNNING="$BENCH_TASK_WORKERS" ATRIUM_TENANT_MAX_QUEUED=1000000)
  [ "$mode" = distributed ] && env+=(ATRIUM_BROKER_URL="$ATRIUM_TEST_RABBITMQ")
  start_atrium "${env[@]}"
  local worker_pid=""
  if [ "$mode" = distributed ]; then
    env "${env[@]}" ATRIUM_DATA_DIR="$ATRIUM_TMP" ATRIUM_LISTEN=127.0.0.1:0 \
      "$BUILD/atrium" worker >"$ATRIUM_TMP/worker.log" 2>&1 &
    worker_pid=$!
    for _ in $(seq 1 200); do
      grep -q '"msg":"worker ready"' "$ATRIUM_TMP/worker.log" 2>/dev/null && break
      sleep 0.05
    done
  fi
  local db="$ATRIUM_TMP/atrium.db" token org agent
  token=$(bench_signup "$ATRIUM_PORT" tasks@bench.example "bench password 123")
  org=$(sqlite3 "$db" "SELECT id FROM organizations LIMIT 1")
  agent=01a00000-0000-7000-8000-0000000000ec
  sqlite3 "$db" "INSERT INTO agents (id, organization_id, name, executor, created_at, updated_at)
    VALUES ('$agent', '$org', 'bench', 'echo', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
  local lua="$ATRIUM_TMP/post.lua"
  cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input":{"bench":true}}'
LUA
  local accepted
  accepted=$(wrk_once "http://127.0.0.1:$ATRIUM_PORT/api/agents/$agent/tasks" -t1 -c16 \
    -d "${BENCH_DURATION}s" -s "$lua" -H "Authorization: Bearer $token")
  # Drained: nothing queued or running (bounded).
  for _ in $(seq 1 1200); do
    [ "$(sqlite3 "$db" "SELECT count(*) FROM tasks WHERE status IN ('queued','running')")" = 0 ] &&
      break
    sleep 0.1
  done
  local stats
  stats=$(sqlite3 -separator ' ' "$db" "
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
  [ -n "$worker_pid" ] && { kill "$worker_pid" 2>/dev/null || true; wait "$worker_pid" 2>/dev/null || true; }
  stop_atrium
  read -r a_rps _ a_p99 <<<"$accepted"
  read -r c_rate e_p50 e_p99 finished total <<<"$stats"
  [ "$finished" = "$total" ] || echo "bench: $mode: only $finished of $total tasks succeeded" >&2
  echo "$a_rps $a_p99 $c_rate $e_p50 $e_p99 $finished"
}

# The median run (by completed/s) of BENCH_RUNS.
bench_tasks_median() {
  for _ in $(seq 1 "$BENCH_RUNS"); do bench_tasks_once "$1"; done |
    sort -n -k3 | awk -v n="$BENCH_RUNS" 'NR == int((n + 1) / 2)'
}

scenario_tasks_distributed() {
  if [ -z "${ATRIUM_TEST_RABBITMQ:-}" ]; then
    printf '## Tasks end to end\n\nSkipped: needs RabbitMQ (scripts/test-services).\n\n'
    return 0
  fi
  local embedded distributed
  embedded=$(bench_tasks_median embedded)
  distributed=$(bench_tasks_median distributed)
  read -r ea eap ec ep50 ep99 en <<<"$embedded"
  read -r da dap dc dp50 dp99 dn <<<"$distributed"
  cat <<MD
## Tasks end to end (embedded vs RabbitMQ)

\`wrk -t1 -c16 -d${BENCH_DURATION}s\` POSTing \`{"input":{"bench":true}}\` to
\`/api/agents/{id}/tasks\` (echo executor, ${BENCH_TASK_WORKERS} workers, one organization), then
waiting until every accepted task has run; median of ${BENCH_RUNS} runs (by completed/s), each on
a fresh server. *Accepted* is the API's rate (202s) and its p99; *completed* is tasks finished
per second from the first task's creation to the last one's end; *end to end* is each task's
\`finished_at − created_at\`. Distributed: \`serve\` relays the outbox to RabbitMQ (publisher
confirms), one \`atrium worker\` consumes (manual acks after the result is committed). The database
is one SQLite file in both modes (PostgreSQL is not in scripts/test-services yet): in distributed
mode two processes contend for its write lock. Where the worker's time goes has not been
profiled yet; measure again on PostgreSQL before drawing conclusions about RabbitMQ.

| mode | accepted/s | accept p99 | completed/s | end to end p50 | end to end p99 | tasks |
|---|---|---|---|---|---|---|
| embedded | $ea | $eap ms | $ec | $ep50 ms | $ep99 ms | $en |
| distributed (RabbitMQ) | $da | $dap ms | $dc | $dp50 ms | $dp99 ms | $dn |

MD
}
