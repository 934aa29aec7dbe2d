#!/usr/bin/env bash
# Chaos: SIGSTOP a random busy worker (one that has lived 6 s: see test_kill_workers.sh)
# about once a second while Bull's jobs are worked. Half
# of them get SIGCONT after about a second (shorter than hung_after_ms: they must carry on,
# their job finished once); the other half stay frozen until the master's health check
# (no heartbeat for hung_after_ms = 4 s) kills them, recovers their job and forks a new
# worker. Recovery = from SIGSTOP to the master's log line that put the frozen worker's job
# back (the verdict comes after hung_after_ms = 4 s).
# BP_CHAOS_JOBS (default 1200), 4 workers, sleep jobs of 40 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init sigstop_workers
bp_redis_start
jobs=${BP_CHAOS_JOBS:-1200}
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }' # Bull's defaults
chaos_pool_start
chaos_add "$jobs" work '{"ms":40}'

stops=0 resumed=0 froze=0
frozen=()  # "pid:stop_ms" left frozen for the master to find
gone=()    # the same, once the master killed them
paused=()  # "pid:cont_at_ms" to resume
recov=()
while ! chaos_settled; do
    now=$(chaos_now_ms)
    victim=$(chaos_busy_old_worker)
    if [ -n "$victim" ] && kill -STOP "$victim" 2>/dev/null; then
        stops=$((stops + 1))
        if [ $((stops % 2)) = 0 ]; then
            paused+=("$victim:$((now + 800 + RANDOM % 600))")
        else
            frozen+=("$victim:$now")
            froze=$((froze + 1))
        fi
    fi
    for _ in 1 2 3 4 5; do
        sleep 0.2
        now=$(chaos_now_ms)
        left=()
        for p in "${paused[@]+"${paused[@]}"}"; do
            if [ "$now" -ge "${p##*:}" ]; then
                if kill -CONT "${p%%:*}" 2>/dev/null; then resumed=$((resumed + 1)); fi
            else
                left+=("$p")
            fi
        done
        paused=("${left[@]+"${left[@]}"}")
        left=()
        for f in "${frozen[@]+"${frozen[@]}"}"; do
            IFS=: read -r pid t <<<"$f"
            if kill -0 "$pid" 2>/dev/null; then left+=("$f"); else gone+=("$f"); fi
        done
        frozen=("${left[@]+"${left[@]}"}")
    done
    [ $(($(date +%s) - CHAOS_T0 / 1000000000)) -lt 900 ] || bp_fail "not settled after 900 s"
done
for p in "${paused[@]+"${paused[@]}"}"; do kill -CONT "${p%%:*}" 2>/dev/null || true; done
chaos_wait_settled 120
# a frozen worker stays stopped until the master's verdict: there must be one for each
if [ "$froze" -gt 0 ]; then
    BP_WAIT_S=30 bp_wait_for grep -qE '(no heartbeat for|deaf subscriber).*killing it' "$CHAOS_LOG" ||
        bp_fail "no frozen worker was killed by the health check"
fi
verdicts=$(grep -c 'no heartbeat for.*killing it' "$CHAOS_LOG" || true)
CHAOS_KILLS=$verdicts
echo "stopped $stops workers: $resumed resumed after ~1 s, $froze left frozen, $verdicts killed by the health check"
for f in "${gone[@]+"${gone[@]}"}" "${frozen[@]+"${frozen[@]}"}"; do
    t=$(chaos_requeue_ms "${f%%:*}") && recov+=($((t - ${f##*:})))
done
chaos_report "SIGSTOP to its job requeued by the master: $(chaos_stats_ms "${recov[@]+"${recov[@]}"}")"
BP_WAIT_S=60 bp_wait_for chaos_workers_are 4 || bp_fail "pool did not come back to 4 workers"
chaos_pool_stop
echo PASS
