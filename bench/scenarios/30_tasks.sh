# Tasks (issue 6), embedded mode: tasks accepted per second by POST /api/agents/{id}/tasks, and
# the time from accept to `succeeded` for the echo executor (server timestamps: created_at →
# finished_at), lightly loaded and under the wrk flood.

# Signs up a fresh user and organization; sets TASKS_TOKEN.
tasks_signup() {
  local out
  out=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/auth/signup" \
    -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench-$RANDOM$RANDOM@example.com\",\"password\":\"correct horse battery staple\",\"organization_name\":\"Bench $RANDOM\"}")
  TASKS_TOKEN=$(jq -r .access_token <<<"$out")
  TASKS_ORG=$(jq -r .organization.id <<<"$out")
}

# Creates an echo agent; prints its id.
tasks_agent() {
  local out
  if out=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents" \
    -H "Authorization: Bearer $TASKS_TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"bench","executor":"echo"}'); then
    jq -r .id <<<"$out"
    return
  fi
  # Without the agents API: straight into the embedded database (WAL allows a second writer).
  local id now
  id=$(cat /proc/sys/kernel/random/uuid)
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  sqlite3 -cmd '.timeout 5000' "$ATRIUM_TMP/atrium.db" \
    "INSERT INTO agents (id, organization_id, name, executor, created_at, updated_at)
     VALUES ('$id', '$TASKS_ORG', 'bench', 'echo', '$now', '$now');" >/dev/null
  echo "$id"
}

# Waits (up to $2 seconds) until the organization has no queued or running task.
tasks_drain() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    local busy=0 s
    for s in queued running; do
      s=$(curl -sf "http://127.0.0.1:$ATRIUM_PORT/api/tasks?status=$s&limit=1" \
        -H "Authorization: Bearer $TASKS_TOKEN" | jq '.items | length')
      busy=$((busy + s))
    done
    [ "$busy" = 0 ] && return 0
    sleep 0.5
  done
  return 1
}

# Prints "count p50_ms p99_ms" of finished_at − created_at over the agent's succeeded tasks.
tasks_latency() {
  local agent=$1 cursor="" page pairs
  pairs=$(mktemp)
  while :; do
    if ! page=$(curl -sf "http://127.0.0.1:$ATRIUM_PORT/api/tasks?agent_id=$agent&status=succeeded&limit=100${cursor:+&cursor=$cursor}" \
      -H "Authorization: Bearer $TASKS_TOKEN"); then
      echo "bench: listing tasks failed" >&2
      break
    fi
    jq -c '.items[] | [.created_at, .finished_at]' <<<"$page" >>"$pairs"
    cursor=$(jq -r '.next_cursor // empty' <<<"$page")
    [ -z "$cursor" ] && break
  done
  jq -rs 'def secs: (.[11:13]|tonumber)*3600 + (.[14:16]|tonumber)*60 + (.[17:-1]|tonumber);
    [ .[] | ((.[1]|secs) - (.[0]|secs)) * 1000 ] | sort | length as $n
    | if $n == 0 then "0 - -" else
      "\($n) \(.[(($n - 1) * 0.5 | floor)] * 1000 | round / 1000) \(.[(($n - 1) * 0.99 | floor)] * 1000 | round / 1000)"
      end' "$pairs"
  rm -f "$pairs"
}

scenario_tasks() {
  local args=(-t1 -c64)
  local light=${BENCH_TASKS_LIGHT:-300}
  start_atrium ATRIUM_LOG_LEVEL=info ATRIUM_TENANT_MAX_QUEUED=10000000
  tasks_signup
  local flood_agent light_agent
  flood_agent=$(tasks_agent)
  light_agent=$(tasks_agent)

  # Light load: one client, one request at a time; no backlog forms.
  for _ in $(seq 1 "$light"); do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents/$light_agent/tasks" \
      -H "Authorization: Bearer $TASKS_TOKEN" -H 'Content-Type: application/json' -d '{"input":{"n":1}}'
  done
  tasks_drain 120 || true
  local light_stats
  light_stats=$(tasks_latency "$light_agent")

  # Flood: wrk posting as fast as it can; the workers run the backlog meanwhile.
  local lua
  lua=$(mktemp --suffix=.lua)
  cat >"$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TASKS_TOKEN"
wrk.body = '{"input":{"n":1}}'
LUA
  local accepted
  accepted=$(wrk_median "http://127.0.0.1:$ATRIUM_PORT/api/agents/$flood_agent/tasks" "${args[@]}" -s "$lua")
  local started=$SECONDS
  tasks_drain 600 || true
  local drain_s=$((SECONDS - started))
  local flood_stats
  flood_stats=$(tasks_latency "$flood_agent")
  local rss_kb
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$ATRIUM_PID/status")
  stop_atrium
  rm -f "$lua"

  read -r a_rps a_p50 a_p99 <<<"$accepted"
  read -r l_n l_p50 l_p99 <<<"$light_stats"
  read -r f_n f_p50 f_p99 <<<"$flood_stats"
  cat <<MD
## Tasks: accept and run (embedded)

\`POST /api/agents/{id}/tasks\` with \`{"input":{"n":1}}\` for an \`echo\` agent: \`wrk --latency
${args[*]} -d${BENCH_DURATION}s -s post.lua\` after a ${BENCH_WARMUP} s warm-up, median of ${BENCH_RUNS} runs
(by req/s). Each accepted task writes its row, outbox row and audit entry; tasks accepted
together share one SQLite transaction (a group commit: docs/ARCHITECTURE.md);
the outbox relay, the in-process workers (\`ATRIUM_WORKERS\` = cores) and the HTTP server share
the machine's $(nproc) cores.
Accept → succeeded is the server's own \`finished_at − created_at\`, read back through
\`GET /api/tasks\`: *light* is one client sending one task at a time (${light} tasks); *flood* is
every task of the wrk runs, so it includes the time spent queued behind the backlog.

| measure | value |
|---|---|
| tasks accepted per second | $a_rps |
| \`POST\` latency p50 / p99 | $a_p50 ms / $a_p99 ms |
| accept → succeeded, light (n=$l_n) p50 / p99 | $l_p50 ms / $l_p99 ms |
| accept → succeeded, flood (n=$f_n) p50 / p99 | $f_p50 ms / $f_p99 ms |
| time to drain the flood's backlog after wrk stopped | ${drain_s} s |

Target (PERFORMANCE.md, distributed mode): ≥ 3,000 tasks accepted per second, nothing lost.
RSS of \`atrium serve\` after the run: $((rss_kb / 1024)) MiB.

MD
}
