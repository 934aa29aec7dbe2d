#!/usr/bin/env bash
# Chaos: kill -9 a random busy worker every BP_CHAOS_KILL_MS (default 300) while Bull's jobs
# are worked. Every killed job is recovered by the master at once (the lock token names the
# dead worker) and run again or, after max_stalled deaths, failed with its causes: none lost.
# Recovery = from the kill to the killed job settling (completed or failed).
# BP_CHAOS_JOBS (default 1000), 4 workers, sleep jobs of 20 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init kill_workers
bp_redis_start
jobs=${BP_CHAOS_JOBS:-1000}
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }' 'max_stalled = 3;'
chaos_pool_start
chaos_add "$jobs" work '{"ms":20}'

kills=0
recov=()
pending=() # "job:kill_ms" of killed jobs not yet settled
while ! chaos_settled; do
    victim=$(chaos_busy_worker)
    # stop it first so its process title names the job it really dies with
    kill -STOP "$victim" 2>/dev/null || true
    job=$(chaos_job_of "$victim")
    if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
        kills=$((kills + 1))
        [ -n "$job" ] && pending+=("$job:$(chaos_now_ms)")
    fi
    sleep "0.$(printf '%03d' "${BP_CHAOS_KILL_MS:-300}")"
    left=()
    for p in "${pending[@]+"${pending[@]}"}"; do
        if chaos_job_settled "${p%%:*}"; then
            recov+=($(($(chaos_now_ms) - ${p##*:})))
        else
            left+=("$p")
        fi
    done
    pending=("${left[@]+"${left[@]}"}")
    [ $(( $(date +%s) - CHAOS_T0 / 1000000000 )) -lt 900 ] || bp_fail "not settled after 900 s"
done
chaos_wait_settled 120
for p in "${pending[@]+"${pending[@]}"}"; do recov+=($(($(chaos_now_ms) - ${p##*:}))); done
echo "killed $kills workers"
chaos_report "killed job settled: $(chaos_stats_ms "${recov[@]+"${recov[@]}"}")"
BP_WAIT_S=20 bp_wait_for chaos_workers_are 4 || bp_fail "pool did not come back to 4 workers"
chaos_pool_stop
echo PASS
