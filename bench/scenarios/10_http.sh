# /healthz through the whole Atrium stack against the bare-Beast ceiling, same run.
scenario_http() {
  local args=(-t1 -c64)
  start_hello
  start_atrium ATRIUM_LOG_LEVEL=info
  local c_rps c_p50 c_p99 h_rps h_p50 h_p99
  {
    read -r c_rps c_p50 c_p99
    read -r h_rps h_p50 h_p99
  } < <(wrk_pair "http://127.0.0.1:$HELLO_PORT/healthz" "http://127.0.0.1:$ATRIUM_PORT/healthz" "${args[@]}")
  local rss_kb
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$ATRIUM_PID/status")
  stop_atrium
  stop_hello

  local ratio
  ratio=$(awk -v a="$h_rps" -v b="$c_rps" 'BEGIN { printf "%.0f", 100 * a / b }')
  cat <<MD
## HTTP: \`GET /healthz\`

\`wrk --latency ${args[*]} -d${BENCH_DURATION}s\` on loopback after a ${BENCH_WARMUP} s warm-up; median of
${BENCH_RUNS} runs (by req/s), the ceiling's and Atrium's runs taken alternately. Atrium runs its
full middleware chain (request id, JSON access-log line, metrics, security headers) on one I/O
thread; the ceiling is a bare Beast coroutine server (\`bench/ceiling/hello_server.cpp\`).

| server | req/s | p50 | p99 |
|---|---|---|---|
| bare Beast (ceiling) | $c_rps | $c_p50 ms | $c_p99 ms |
| Atrium \`/healthz\` | $h_rps | $h_p50 ms | $h_p99 ms |

Atrium reaches **${ratio}%** of the ceiling. Target (issue 2): ≥ 50,000 req/s on this 2-core machine.
RSS of \`atrium serve\` after the run: $((rss_kb / 1024)) MiB.

MD
}
