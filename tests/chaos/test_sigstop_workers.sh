#!/usr/bin/env bash
# Chaos: SIGSTOP a random busy worker about once a second while Bull's jobs are worked. Half
# of them get SIGCONT after about a second (shorter than hung_after_ms: they must carry on,
# their job finished once); the other half stay frozen until the master's health check
# (no heartbeat for hung_after_ms = 4 s) kills them, recovers their job and forks a new
# worker. Recovery = from SIGSTOP to the frozen worker's job settling.
# BP_CHAOS_JOBS (default 600), 4 workers, sleep jobs of 40 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init sigstop_workers
bp_redis_start
jobs=${BP_CHAOS_JOBS:-600}
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }' 'max_stalled = 3;'
chaos_pool_start
chaos_add "$jobs" work '{"ms":40}'

stops=0 resumed=0
frozen=()  # "pid:job:stop_ms" left frozen for the master to find
paused=()  # "pid:cont_at_ms" to resume
recov=()
while ! chaos_settled; do
    now=$(chaos_now_ms)
    victim=$(chaos_busy_worker)
    if [ -n "$victim" ] && kill -STOP "$victim" 2>/dev/null; then
        stops=$((stops + 1))
        if [ $((stops % 2)) = 0 ]; then
            paused+=("$victim:$((now + 800 + RANDOM % 600))")
        else
            frozen+=("$victim:$(chaos_job_of "$victim"):$now")
        fi
    fi
    for _ in 1 2 3 4 5; do
        sleep 0.2
        now=$(chaos_now_ms)
        left=()
        for p in "${paused[@]+"${paused[@]}"}"; do
            if [ "$now" -ge "${p##*:}" ]; then
                kill -CONT "${p%%:*}" 2>/dev/null && resumed=$((resumed + 1)) || true
            else
                left+=("$p")
            fi
        done
        paused=("${left[@]+"${left[@]}"}")
        left=()
        for f in "${frozen[@]+"${frozen[@]}"}"; do
            IFS=: read -r pid job t <<<"$f"
            if [ -n "$job" ] && chaos_job_settled "$job"; then
                recov+=($((now - t)))
            elif [ -z "$job" ] && ! kill -0 "$pid" 2>/dev/null; then
                : # it was idle: nothing to recover
            else
                left+=("$f")
            fi
        done
        frozen=("${left[@]+"${left[@]}"}")
    done
    [ $(($(date +%s) - CHAOS_T0 / 1000000000)) -lt 900 ] || bp_fail "not settled after 900 s"
done
for p in "${paused[@]+"${paused[@]}"}"; do kill -CONT "${p%%:*}" 2>/dev/null || true; done
chaos_wait_settled 120
verdicts=$(grep -c 'no heartbeat for' "$CHAOS_LOG" || true)
echo "stopped $stops workers: $resumed resumed after ~1 s, $verdicts killed by the health check"
[ "$verdicts" -gt 0 ] || [ "$stops" -lt 2 ] || bp_fail "no frozen worker was killed by the health check"
chaos_report "frozen worker's job settled: $(chaos_stats_ms "${recov[@]+"${recov[@]}"}")"
BP_WAIT_S=20 bp_wait_for chaos_workers_are 4 || bp_fail "pool did not come back to 4 workers"
chaos_pool_stop
echo PASS
