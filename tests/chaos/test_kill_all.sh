#!/usr/bin/env bash
# Chaos: EVERY worker killed at once (kill -9 of the whole pool, the master survives),
# BP_CHAOS_ROUNDS times (default 2) in each of two phases, with Bull's defaults (max_stalled
# 1, lock 30 s, stalled check 30 s):
#  - backlog: Bull added BP_CHAOS_JOBS sleep jobs of 100 ms at once, so every worker is busy
#    and the recovered jobs go back in front of a long wait list;
#  - trickle: Bull adds one job every 150 ms, so most workers sit idle, blocked in their
#    BRPOPLPUSH, when they die: a recovered job must not be taken by a dead worker's pull
#    (the master closes a dead worker's connections before it moves its jobs) and a job a
#    dying pull took without running it goes back without a stall.
# Each round waits until every worker has lived BP_CHAOS_MIN_AGE_S (default 6 s): younger
# deaths are "quick deaths" whose respawns back off (crash-loop protection, not recovery).
# A job whose run crashed once must complete (failing it counts as lost). Recovery = from
# the kill to the last of the killed jobs requeued.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init kill_all
bp_redis_start
jobs=${BP_CHAOS_JOBS:-500}
rounds=${BP_CHAOS_ROUNDS:-2}
workers=4
chaos_conf "$CHAOS_CONF" $workers '{ job = "*"; type = "sleep"; }' # Bull's defaults
chaos_pool_start

old_pool() {
    [ "$(ps -o etimes= --ppid "$CHAOS_MASTER" | awk -v age="${BP_CHAOS_MIN_AGE_S:-6}" '$1 >= age' | wc -l)" -eq $workers ] &&
        [ "$(ps -o args= --ppid "$CHAOS_MASTER" | grep -c 'worker .* \(idle\|busy\)')" -eq $workers ]
}
CHAOS_KILLS=0
recov=()
kill_all() {
    local phase=$1 r=$2 kids t0 busy
    BP_WAIT_S=60 bp_wait_for old_pool || { tail -20 "$CHAOS_LOG"; bp_fail "$phase round $r: the pool is not back"; }
    kids=$(chaos_workers | xargs)
    busy=$(ps -o args= --ppid "$CHAOS_MASTER" | grep -c 'busy job' || true)
    t0=$(chaos_now_ms)
    # shellcheck disable=SC2086 # a list of pids, killed in one call: at once
    kill -9 $kids
    CHAOS_KILLS=$((CHAOS_KILLS + $(echo "$kids" | wc -w)))
    for k in $kids; do BP_WAIT_S=10 bp_wait_for bash -c "! kill -0 $k" || true; done
    local last=0 t
    for k in $kids; do
        t=$(BP_WAIT_S=5 bp_wait_for chaos_requeue_ms "$k" && chaos_requeue_ms "$k") || continue
        [ "$t" -gt "$last" ] && last=$t
    done
    [ "$last" -gt 0 ] && recov+=($((last - t0)))
    echo "$phase round $r: killed $(echo "$kids" | wc -w) workers at once ($busy busy)"
}

# backlog
chaos_add "$jobs" work '{"ms":100}'
for r in $(seq 1 "$rounds"); do kill_all backlog "$r"; done
chaos_wait_settled 180
# trickle: workers idle in their pulls most of the time
chaos_node drip "$CHAOS_QUEUE" $((rounds * 45)) 150 work '{"ms":100}' >"$BP_TMP/drip.log" 2>&1 &
drip=$!
bp_track_pid "$drip"
for r in $(seq 1 "$rounds"); do kill_all trickle "$r"; done
wait "$drip" || bp_fail "the trickle producer failed: $(cat "$BP_TMP/drip.log")"
chaos_wait_settled 120
unstalled=$(sed -n 's/.*(\([0-9]*\) not counted as a stall: never run)$/\1/p' "$CHAOS_LOG" | awk '{s += $1} END {print s + 0}')
echo "jobs a dying pull took without running them, put back without a stall: $unstalled"
chaos_report "kill to the pool's jobs requeued: $(chaos_stats_ms "${recov[@]+"${recov[@]}"}")"
BP_WAIT_S=60 bp_wait_for chaos_workers_are $workers || bp_fail "pool did not come back to $workers workers"
chaos_pool_stop
echo PASS
