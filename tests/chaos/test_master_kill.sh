#!/usr/bin/env bash
# Chaos: BP_CHAOS_ROUNDS times (default 2) while the workers run jobs, alternately
#  - the master alone is SIGKILLed: its workers must exit by themselves (they finish the
#    job in hand, then stop: no orphan keeps pulling), and
#  - the master and every worker are SIGKILLed at once (a host crash, systemd's
#    KillMode=control-group SIGKILL, the OOM killer taking the group): their jobs stay in
#    active under locks nobody renews.
# A new `bullpen run`, with Bull's defaults (max_stalled 1, lock 30 s, stalled check 30 s),
# closes the dead pool's connections, recovers the jobs of every registered token whose
# worker is dead at once (no waiting for the 30 s locks), and sweeps what a dying pull left
# unlocked. A job whose run crashed once must complete. Recovery = from the new master's
# start to every job left in active settling.
# BP_CHAOS_JOBS (default 200), 4 workers, sleep jobs of 300 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init master_kill
bp_redis_start
jobs=${BP_CHAOS_JOBS:-200}
rounds=${BP_CHAOS_ROUNDS:-2}
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }'
chaos_pool_start
chaos_add "$jobs" work '{"ms":300}'

completed() { bp_rcli ZCARD "bull:$CHAOS_QUEUE:completed"; }
completed_ge() { [ "$(completed)" -ge "$1" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
recov=()
CHAOS_KILLS=0
for r in $(seq 1 "$rounds"); do
    BP_WAIT_S=120 bp_wait_for completed_ge $((jobs * r / (rounds + 2))) || bp_fail "round $r: stuck"
    kids=$(chaos_workers)
    inflight=$(bp_rcli LRANGE "bull:$CHAOS_QUEUE:active" 0 -1 | xargs)
    if [ $((r % 2)) = 1 ]; then
        what="master"
        kill -9 "$CHAOS_MASTER"
    else
        what="master and workers"
        # shellcheck disable=SC2086 # a list of pids
        kill -9 "$CHAOS_MASTER" $kids
        CHAOS_KILLS=$((CHAOS_KILLS + $(echo "$kids" | wc -w)))
    fi
    CHAOS_KILLS=$((CHAOS_KILLS + 1))
    wait "$CHAOS_MASTER" 2>/dev/null || true
    echo "round $r: $what SIGKILLed at $(completed) completed; in flight: $inflight"
    for k in $kids; do
        BP_WAIT_S=15 bp_wait_for gone "$k" || bp_fail "worker $k outlived its SIGKILLed master"
    done
    still=$(bp_rcli LRANGE "bull:$CHAOS_QUEUE:active" 0 -1 | xargs)
    echo "round $r: all $(echo "$kids" | wc -w) workers exited; left in active: ${still:-none}"
    [ -z "$still" ] || [ $((r % 2)) = 0 ] || echo "FINDING: orphaned workers left jobs in active: $still"
    t0=$(chaos_now_ms)
    chaos_pool_start
    for id in $still; do
        BP_WAIT_S=20 bp_wait_for chaos_job_settled "$id" ||
            { tail -30 "$CHAOS_LOG"; bp_fail "round $r: job $id of the killed master never settled"; }
    done
    recov+=($(($(chaos_now_ms) - t0)))
done
chaos_wait_settled 180
chaos_report "new master to in-flight jobs settled: $(chaos_stats_ms "${recov[@]}")"
chaos_pool_stop
echo PASS
