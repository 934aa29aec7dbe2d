#!/usr/bin/env bash
# Chaos: kill -9 a random busy worker every BP_CHAOS_KILL_MS (default 500) while Bull's jobs
# are worked; only workers that have lived BP_CHAOS_MIN_AGE_S (default 6) are chosen: a
# worker dying within 5 s of its start is a "quick death" to the master, whose respawn
# backoff for that slot then grows to 30 s (crash-loop protection), so killing young
# workers measures that policy (the pool drains), not recovery. Every killed job is recovered by the master within 0.3 s (the lock token names the
# dead worker) and run again, with Bull's defaults (max_stalled 1, lock 30 s, stalled check
# 30 s): a job whose run crashed once must complete; failing it would count as lost.
# Recovery = from the kill to the master's log line that put the dead worker's job back.
# BP_CHAOS_JOBS (default 1000), 4 workers, sleep jobs of 50 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init kill_workers
bp_redis_start
jobs=${BP_CHAOS_JOBS:-1000}
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }'
chaos_pool_start
chaos_add "$jobs" work '{"ms":50}'

kills=0
killed=() # "pid:kill_ms"
while ! chaos_settled; do
    victim=$(chaos_busy_old_worker)
    if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
        kills=$((kills + 1))
        killed+=("$victim:$(chaos_now_ms)")
    fi
    sleep "$(awk -v ms="${BP_CHAOS_KILL_MS:-500}" 'BEGIN {print ms / 1000}')"
    [ $(($(date +%s) - CHAOS_T0 / 1000000000)) -lt 900 ] || bp_fail "not settled after 900 s"
done
chaos_wait_settled 120
recov=()
for k in "${killed[@]+"${killed[@]}"}"; do
    t=$(chaos_requeue_ms "${k%%:*}") && recov+=($((t - ${k##*:})))
done
echo "killed $kills workers, ${#recov[@]} of them mid-job"
CHAOS_KILLS=$kills
chaos_report "kill -9 to its job requeued by the master: $(chaos_stats_ms "${recov[@]+"${recov[@]}"}")"
# a slot killed again and again backs off its respawns, up to 30 s (BP_RESPAWN_MAX_MS)
BP_WAIT_S=60 bp_wait_for chaos_workers_are 4 || bp_fail "pool did not come back to 4 workers"
chaos_pool_stop
echo PASS
