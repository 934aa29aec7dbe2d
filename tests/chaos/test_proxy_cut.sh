#!/usr/bin/env bash
# Chaos: the pool reaches Redis through tests/support/bp_tcp_proxy (Bull's producer and the
# audit go direct). BP_CHAOS_ROUNDS times (default 1): every connection cut at once and new
# ones refused for 3 s; then a black hole for 8 s (connections stay open, bytes vanish, no
# answer, no RST: only command_timeout_ms = 3000 can tell). After each, the proxy passes
# again and the pool must resume by itself, with no job lost. Recovery = from pass to the
# next job completed. BP_CHAOS_JOBS (default 1000), 4 workers, sleep jobs of 20 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init proxy_cut
bp_redis_start
proxy_bin=$BP_BUILD_DIR/tests/bp_tcp_proxy
[ -x "$proxy_bin" ] || bp_fail "proxy not built: $proxy_bin"
"$proxy_bin" -t "$BP_TLS_PORT" -p "$BP_TMP/proxy.port" 2>"$BP_TMP/proxy.log" &
proxy=$!
bp_track_pid "$proxy"
bp_wait_for test -s "$BP_TMP/proxy.port" || bp_fail "proxy did not start"
jobs=${BP_CHAOS_JOBS:-1000}
rounds=${BP_CHAOS_ROUNDS:-1}
# Bull's defaults (max_stalled 1, lock 30 s, stalled check 30 s): an 8 s black hole is
# shorter than the lock, so an outcome that could not be recorded is recorded after it
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }' '' '' \
    "$(cat "$BP_TMP/proxy.port")"
chaos_pool_start
chaos_add "$jobs" work '{"ms":20}'

completed() { bp_rcli ZCARD "bull:$CHAOS_QUEUE:completed"; }
completed_ge() { [ "$(completed)" -ge "$1" ]; }
cut_recov=() bh_recov=()
step=0
# disrupt SIGNAL SECONDS: wait for some progress, break the network, restore, time recovery
disrupt() {
    local sig=$1 secs=$2 what=$3
    step=$((step + 1))
    BP_WAIT_S=120 bp_wait_for completed_ge $((jobs * step / (2 * rounds + 2))) ||
        bp_fail "stuck before $what $step"
    local before
    before=$(completed)
    kill "-$sig" "$proxy"
    echo "$what at $before completed, for $secs s ($(date -u +%T))"
    sleep "$secs"
    kill -HUP "$proxy"
    local t0
    t0=$(chaos_now_ms)
    BP_WAIT_S=90 bp_wait_for completed_ge $(($(completed) + 1)) ||
        { tail -40 "$CHAOS_LOG"; bp_fail "no job completed after the $what ended"; }
    RECOV=$(($(chaos_now_ms) - t0))
}
for _ in $(seq 1 "$rounds"); do
    disrupt USR1 3 cut
    cut_recov+=("$RECOV")
    disrupt USR2 8 blackhole
    bh_recov+=("$RECOV")
done
chaos_wait_settled 180
cat "$BP_TMP/proxy.log"
echo "worker-side timeouts logged: $(grep -ci 'timed out\|timeout' "$CHAOS_LOG" || true);" \
    "reconnects: $(grep -c 'connection reopened' "$CHAOS_LOG" || true)"
chaos_report "cut: $(chaos_stats_ms "${cut_recov[@]}"); blackhole: $(chaos_stats_ms "${bh_recov[@]}")"
chaos_pool_stop
echo PASS
