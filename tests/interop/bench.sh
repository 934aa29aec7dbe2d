#!/usr/bin/env bash
# bench.sh [N] -- Redis commands per job and jobs/s for the steady-state loop (take ->
# complete with fetch-next) of echo jobs: bullpen's protocol through the probe vs a stock Bull
# worker, on the same TLS redis-server. Not a ctest test (timing), run by hand:
#   BP_PROBE=build/rel/tests/bp_queue_probe bash tests/interop/bench.sh 5000
set -u
. "$(dirname "$0")/setup.sh"
n=${1:-5000}
bp_interop_start bench

calls() { # every command Redis ran, including those inside scripts
    bp_rcli INFO commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_/ {s += $3} END {print s}'
}

# run LABEL JOBS CMD...: time the loop, then count commands in a second run of JOBS/5 jobs
# under MONITOR (lines without "lua]" are what clients sent; the rest ran inside scripts)
run() {
    local label=$1 jobs=$2 out all mon small=$(($2 / 5))
    shift 2
    bp_rcli FLUSHALL >/dev/null
    bp_node bench_bull.js fill "$jobs" || bp_fail "fill"
    bp_rcli CONFIG RESETSTAT >/dev/null
    out=$("$@" "$jobs") || bp_fail "$label: $out"
    all=$(calls)
    echo "$label: $out"
    awk -v a="$all" -v n="$jobs" 'BEGIN { printf "    commands run by Redis per job (incl. inside scripts): %.2f\n", a / n }'
    rate
    bp_rcli FLUSHALL >/dev/null
    bp_node bench_bull.js fill "$small" || bp_fail "fill"
    # exec: the pid killed below must be redis-cli itself, not a subshell around it
    (exec redis-cli --tls --cacert "$BP_CERTS/ca.crt" -h 127.0.0.1 -p "$BP_TLS_PORT" MONITOR \
        >"$BP_TMP/monitor.txt" 2>/dev/null) &
    mon=$!
    sleep 0.5
    "$@" "$small" >/dev/null || bp_fail "$label (monitored)"
    sleep 0.5
    kill "$mon"; wait "$mon" 2>/dev/null
    grep -av 'lua\]' "$BP_TMP/monitor.txt" | grep -av '"MONITOR"' | awk '{print $4}' | tr -d '"' |
        sort | uniq -c | sort -rn | head -8 | sed 's/^/    /'
    grep -av 'lua\]' "$BP_TMP/monitor.txt" | grep -avc '"MONITOR"' |
        awk -v n="$small" '{ printf "    commands sent by the client per job: %.2f (MONITOR, %d jobs)\n", $1 / n, n }'
}
# jobs/s from Redis's own record: first to last finishedOn in the completed ZSET (start-up
# and shutdown of the runner are not counted)
rate() {
    local first last
    first=$(bp_rcli ZRANGE bull:bench:completed 0 0 WITHSCORES | tail -1)
    last=$(bp_rcli ZRANGE bull:bench:completed -1 -1 WITHSCORES | tail -1)
    awk -v f="$first" -v l="$last" -v n="$(bp_rcli ZCARD bull:bench:completed)" 'BEGIN {
        if (l > f) printf "    first to last finishedOn: %d jobs in %d ms: %.0f jobs/s\n", n, l - f, (n - 1) * 1000 / (l - f) }'
}

completed_at_least() { [ "$(bp_rcli ZCARD bull:bench:completed)" -ge "$1" ]; }

# pool N: `bullpen run` with BP_POOL_WORKERS workers until N jobs are completed
pool() {
    bp_pool_start
    BP_WAIT_S=600 bp_wait_for completed_at_least "$1" ||
        bp_fail "the pool did not finish $1 jobs"
    kill -TERM "$BP_POOL_PID"
    wait "$BP_POOL_PID" 2>/dev/null
    bp_pool_check_log
    echo "pool of ${BP_POOL_WORKERS:-2} worker(s) done"
}

run "bullpen probe (1 process)" "$n" "$BP_PROBE" -c "$BP_CONF" -q bench bench
run "bull worker (1 process, concurrency 1)" "$n" bp_node bench_bull.js work
if [ -x "${BULLPEN_BIN:-}" ]; then
    run "bullpen pool" "$n" pool
fi
