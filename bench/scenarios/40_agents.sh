# The agents API under load (issue 5): GET /api/agents answering a page of 50 agents, and
# POST /api/agents creating one per request (a write transaction with its audit entry), on the
# embedded SQLite store and on PostgreSQL through PgBouncer (transaction pooling, row-level
# security on), same run.

# agents_token PORT → signs up an admin of a fresh organization; prints its access token.
agents_token() {
  curl -sf -X POST "http://127.0.0.1:$1/api/auth/signup" -H 'Content-Type: application/json' \
    -d '{"email":"agents@bench.example","password":"bench password 123","organization_name":"Bench"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

# agents_measure LABEL [VAR=value ...] → one table row per measurement, for a server started with
# the given environment.
agents_measure() {
  local label=$1
  shift
  start_atrium ATRIUM_LOG_LEVEL=info "$@"
  local url="http://127.0.0.1:$ATRIUM_PORT"
  local token
  token=$(agents_token "$ATRIUM_PORT")
  for i in $(seq 1 50); do
    curl -sf -o /dev/null -X POST "$url/api/agents" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' \
      -d "{\"name\":\"agent $i\",\"executor\":\"echo\",\"instructions\":\"Say hello to the caller.\"}"
  done
  local count
  count=$(curl -sf "$url/api/agents?limit=100" -H "Authorization: Bearer $token" | grep -o '"id"' | wc -l)
  local list
  list=$(wrk_median "$url/api/agents" -t1 -c64 -H "Authorization: Bearer $token")

  local lua="$ATRIUM_TMP/create.lua"
  cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"load","executor":"echo","instructions":"Say hello to the caller."}'
LUA
  local create
  create=$(wrk_median "$url/api/agents" -t1 -c16 -s "$lua" -H "Authorization: Bearer $token")
  stop_atrium

  read -r l_rps l_p50 l_p99 <<<"$list"
  read -r c_rps c_p50 c_p99 <<<"$create"
  echo "| $label | \`GET /api/agents\` (${count} agents, -c64) | $l_rps | $l_p50 ms | $l_p99 ms |"
  echo "| $label | \`POST /api/agents\` (-c16) | $c_rps | $c_p50 ms | $c_p99 ms |"
}

scenario_agents() {
  local rows
  rows=$(agents_measure "SQLite (embedded)")
  local pg_note="PostgreSQL was not measured: \`scripts/test-services\` is not available here."
  if [ -n "${ATRIUM_TEST_PGBOUNCER:-}" ] && [ -n "${ATRIUM_TEST_POSTGRES:-}" ]; then
    local dbname
    dbname="atrium_bench_$$"
    psql -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES#*:}" -U postgres \
      -c "CREATE DATABASE $dbname OWNER atrium_owner" >/dev/null
    rows+=$'\n'$(agents_measure "PostgreSQL via PgBouncer" \
      ATRIUM_DATABASE_URL="postgresql://atrium@$ATRIUM_TEST_PGBOUNCER/$dbname" \
      ATRIUM_DATABASE_MIGRATION_URL="postgresql://atrium_owner@$ATRIUM_TEST_PGBOUNCER/$dbname")
    psql -q -h "${ATRIUM_TEST_POSTGRES%:*}" -p "${ATRIUM_TEST_POSTGRES#*:}" -U postgres \
      -c "DROP DATABASE $dbname WITH (FORCE)" >/dev/null || true
    pg_note="PostgreSQL 15 and PgBouncer 1.18 (\`pool_mode = transaction\`) from \`scripts/test-services\`, row-level security on, the application connected as a role that owns no table."
  fi
  cat <<MD
## Agents: \`GET /api/agents\` and \`POST /api/agents\`

\`wrk --latency -t1 -d${BENCH_DURATION}s -H 'Authorization: Bearer …'\` on loopback after a ${BENCH_WARMUP} s
warm-up; median of ${BENCH_RUNS} runs (by req/s). One organization; the list answers the default
page (50 agents, newest first, each a full agent object), the create inserts an agent and its
\`agent.create\` audit entry in one transaction. A fresh \`atrium serve\` per backend,
\`ATRIUM_LOG_LEVEL=info\` (one access-log line per request, as the Node.js stack's). ${pg_note}

| store | request | req/s | p50 | p99 |
|---|---|---|---|---|
${rows}

Reference (PERFORMANCE.md, a Node.js/Fastify + \`pg\` stack on a machine of this kind, not this
run): \`GET /api/agents\` (PostgreSQL, 50 rows) ≈ 3–4k req/s, p99 ≈ 40–50 ms. Target: ≥ 2× that,
through PgBouncer with row-level security on.

MD
}
