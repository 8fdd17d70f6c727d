# Shared helpers for bench/scenarios/*.sh (sourced by scripts/bench).
# Each scenario is a function `scenario_<name>` printing a Markdown section on stdout.

BENCH_DURATION=${BENCH_DURATION:-10}   # seconds per wrk run
BENCH_WARMUP=${BENCH_WARMUP:-3}        # seconds of warm-up before measuring
BENCH_RUNS=${BENCH_RUNS:-3}            # runs per measurement; the median is reported

# Starts `atrium serve` on a free port with a fresh data dir; sets ATRIUM_PID, ATRIUM_PORT,
# ATRIUM_TMP. Extra environment may be passed as arguments (VAR=value ...).
start_atrium() {
  ATRIUM_TMP=$(mktemp -d)
  env ATRIUM_DATA_DIR="$ATRIUM_TMP" ATRIUM_LISTEN=127.0.0.1:0 ATRIUM_WEB_ROOT="$ATRIUM_TMP/web" "$@" \
    "$BUILD/atrium" serve >"$ATRIUM_TMP/log" 2>&1 &
  ATRIUM_PID=$!
  for _ in $(seq 1 200); do
    ATRIUM_PORT=$(grep -m1 '"msg":"listening"' "$ATRIUM_TMP/log" 2>/dev/null | sed -E 's/.*"port":([0-9]+).*/\1/' || true)
    [ -n "$ATRIUM_PORT" ] && return 0
    sleep 0.05
  done
  echo "atrium did not start:" >&2
  cat "$ATRIUM_TMP/log" >&2
  return 1
}

stop_atrium() {
  kill "$ATRIUM_PID" 2>/dev/null || true
  wait "$ATRIUM_PID" 2>/dev/null || true
  rm -rf "$ATRIUM_TMP"
}

# Converts wrk's latency ("812.00us", "1.23ms", "2.01s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%s", v }'
}

# wrk_once URL [wrk args...] → "req_per_sec p50_ms p99_ms"
wrk_once() {
  local url=$1; shift
  local out
  out=$(wrk --latency "$@" "$url")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  echo "$rps $p50 $p99"
}

# median_by_rps: of BENCH_RUNS "rps p50 p99" lines on stdin, the median line by req/s.
median_by_rps() {
  sort -n -k1 | awk -v n="$BENCH_RUNS" 'NR == int((n + 1) / 2)'
}

# wrk_median URL [wrk args...] → median over BENCH_RUNS runs (by req/s): "rps p50 p99"
wrk_median() {
  local url=$1; shift
  wrk -d "${BENCH_WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
  for _ in $(seq 1 "$BENCH_RUNS"); do
    wrk_once "$url" -d "${BENCH_DURATION}s" "$@"
  done | median_by_rps
}

# wrk_pair URL_A URL_B [wrk args...] → two lines "rps p50 p99": A's median, then B's, over
# BENCH_RUNS runs taken alternately (A, B, A, B, …) so that drift in the machine's speed during the
# measurement (it swings ±20% between minutes here) falls on both alike and their ratio holds.
wrk_pair() {
  local a=$1 b=$2; shift 2
  wrk -d "${BENCH_WARMUP}s" "$@" "$a" >/dev/null 2>&1 || true
  wrk -d "${BENCH_WARMUP}s" "$@" "$b" >/dev/null 2>&1 || true
  local ra rb
  ra=$(mktemp)
  rb=$(mktemp)
  for _ in $(seq 1 "$BENCH_RUNS"); do
    wrk_once "$a" -d "${BENCH_DURATION}s" "$@" >>"$ra"
    wrk_once "$b" -d "${BENCH_DURATION}s" "$@" >>"$rb"
  done
  for f in "$ra" "$rb"; do
    median_by_rps <"$f"
  done
  rm -f "$ra" "$rb"
}

# Starts the bare Beast server; sets HELLO_PID and HELLO_PORT.
start_hello() {
  local fifo
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  "$BUILD/bench/hello_server" >"$fifo" &
  HELLO_PID=$!
  read -r HELLO_PORT <"$fifo"
  rm -f "$fifo"
}

stop_hello() {
  kill "$HELLO_PID" 2>/dev/null || true
  wait "$HELLO_PID" 2>/dev/null || true
}
