# Start to ready and idle footprint of `atrium serve` on the embedded default (PERFORMANCE.md:
# start to ready ≤ 50 ms, idle RSS ≤ 20 MB).

BENCH_STARTS=${BENCH_STARTS:-11}   # starts per case; the median is reported

scenario_startup() {
  local out fresh existing
  out=$("$BUILD/bench/start_bench" "$BUILD/atrium" "$BENCH_STARTS")
  fresh=$(grep '^fresh ' <<<"$out")
  existing=$(grep '^existing ' <<<"$out")
  read -r _ f_med f_min f_max f_rss <<<"$fresh"
  read -r _ e_med e_min e_max e_rss <<<"$existing"
  cat <<MD
## Startup: \`atrium serve\` to ready

\`build/bench/start_bench build/atrium $BENCH_STARTS\`: the time from exec to the first 200 from
\`/readyz\` (polled every 0.5 ms from outside, so it includes the dynamic loader and static
initialisation), one process at a time, $BENCH_STARTS starts per case; RSS is the server's resident
set right after it answered ready (median).

| data directory | median | min | max | RSS when ready |
|---|---|---|---|---|
| fresh (migrations + seed from nothing) | $f_med ms | $f_min ms | $f_max ms | $((f_rss / 1024)) MiB |
| existing (a restart) | $e_med ms | $e_min ms | $e_max ms | $((e_rss / 1024)) MiB |

Targets (PERFORMANCE.md): start to ready ≤ 50 ms (embedded); idle RSS ≤ 20 MB.

MD
}
