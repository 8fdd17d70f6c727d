# Real-time: memory per idle authenticated WebSocket connection, and fan-out latency from a task's
# transition to its delivery, at 1,000 and 10,000 subscribers of one organization (issue 8).

BENCH_FANOUT_TASKS=${BENCH_FANOUT_TASKS:-20}   # tasks run per subscriber count

# realtime_run CONNECTIONS → "rss_before_kb rss_idle_kb p50_ms p99_ms max_ms deliveries subscribed
# failed message_bytes"
# Needs ATRIUM_PORT, ATRIUM_PID, RT_TOKEN, RT_AGENT.
realtime_run() {
  local n=$1 fifo out
  fifo=$(mktemp -u)
  out=$(mktemp)
  mkfifo "$fifo"
  local before
  before=$(awk '/VmRSS/ {print $2}' "/proc/$ATRIUM_PID/status")
  "$BUILD/bench/ws_bench" "$ATRIUM_PORT" "$RT_TOKEN" "$n" <"$fifo" >"$out" &
  local client=$!
  exec 7>"$fifo"
  for _ in $(seq 1 1200); do
    grep -q '^ready' "$out" && break
    sleep 0.1
  done
  local idle
  idle=$(awk '/VmRSS/ {print $2}' "/proc/$ATRIUM_PID/status")
  for i in $(seq 1 "$BENCH_FANOUT_TASKS"); do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents/$RT_AGENT/tasks" \
      -H "Authorization: Bearer $RT_TOKEN" -H 'Content-Type: application/json' -d "{\"input\":{\"n\":$i}}"
    sleep 0.2  # spaced out, so each measures one fan-out rather than a queue of them
  done
  echo "report $BENCH_FANOUT_TASKS" >&7
  exec 7>&-
  wait "$client" || true
  rm -f "$fifo"
  local ready deliveries
  ready=$(grep -m1 '^ready' "$out" || echo "ready 0 $n")
  deliveries=$(grep -m1 '^deliveries' "$out" || echo "deliveries 0 0 0 0 0")
  rm -f "$out"
  read -r _ subscribed failed <<<"$ready"
  read -r _ count p50 p99 max bytes <<<"$deliveries"
  echo "$before $idle $p50 $p99 $max $count $subscribed $failed $bytes"
}

scenario_realtime() {
  ulimit -n "$(ulimit -Hn)"
  start_atrium ATRIUM_LOG_LEVEL=info ATRIUM_WS_CONNECTIONS_PER_TENANT=100000 ATRIUM_MAX_CONNECTIONS=100000
  RT_TOKEN=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/auth/signup" -H 'Content-Type: application/json' \
    -d '{"email":"ws@bench.example","password":"bench password 123","organization_name":"Bench"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  RT_AGENT=$(curl -sf -X POST "http://127.0.0.1:$ATRIUM_PORT/api/agents" -H "Authorization: Bearer $RT_TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"bench","executor":"echo"}' |
    sed -E 's/.*"id":"([^"]+)".*/\1/')
  # 10,000 first: its RSS delta is the idle cost per connection; after it, freed memory is
  # reused, so the 1,000 run reports fan-out only.
  local big small rows="" n r before idle p50 p99 max count subscribed failed per bytes floor=""
  big=$(realtime_run 10000)
  small=$(realtime_run 1000)
  stop_atrium
  for n in 1000 10000; do
    if [ "$n" = 1000 ]; then r=$small; else r=$big; fi
    read -r before idle p50 p99 max count subscribed failed bytes <<<"$r"
    per="–"
    [ "$n" = 10000 ] && per=$(awk -v a="$before" -v b="$idle" -v n="$subscribed" \
      'BEGIN { if (n > 0) printf "%.1f KiB", (b - a) / n; else print "–" }')
    rows+="| $n | $subscribed ($failed failed) | $per | $count | $p50 ms | $p99 ms | $max ms |"$'\n'
    # The kernel's share: the same N loopback sockets and message size, nothing else.
    read -r _ _ p50 p99 max _ <<<"$("$BUILD/bench/fanout_floor" "$n" "${bytes:-600}" 10 || echo "floor 0 – – –")"
    floor+="| $n | ${bytes:-600} B | $p50 ms | $p99 ms | $max ms |"$'\n'
  done
  cat <<MD
## Real-time: WebSocket connections and fan-out

\`bench/realtime/ws_bench\` (one client process, one thread) opens the connections to \`/ws\` with a
bearer token, subscribes each to its organization's task changes and waits for every
subscription to be confirmed; the server's RSS is read before and after (the idle cost per
connection). Then ${BENCH_FANOUT_TASKS} echo tasks run one after another (0.2 s apart); for each delivery of a task's
\`succeeded\` event, latency = arrival at the client − the task's \`finished_at\` (the server's clock,
same machine), so it covers the commit, the event bus, the hub and the client's own reading of
N sockets on the same 2 cores. \`atrium serve\` runs with one I/O thread.

| subscribers | connected | RSS per idle connection | deliveries | p50 | p99 | max |
|---|---|---|---|---|---|---|
${rows}
Targets (issue 8): ≤ 4 KiB RSS per idle connection at 10,000; fan-out p99 ≤ 20 ms at 10,000.

Each task sends three fan-outs: \`queued\`, then \`running\` and \`succeeded\` within a millisecond
of each other (the server's task log), so a \`succeeded\` delivery waits behind N \`running\`
messages and the tail of the \`queued\` ones. The floor under these figures is the
kernel's: \`bench/realtime/fanout_floor\` sends one message of the same size to each of the same
number of raw loopback TCP sockets (one \`send()\` each from one process, read through epoll by
one thread of another: the shape of \`atrium serve\` and \`ws_bench\`, with no WebSocket, JSON or
Atrium), 10 rounds; latency = arrival − start of the round.

| connections | message | floor p50 | floor p99 | floor max |
|---|---|---|---|---|
${floor}
MD
}
