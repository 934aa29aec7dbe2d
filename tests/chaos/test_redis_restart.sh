#!/usr/bin/env bash
# Chaos: redis-server (AOF, appendfsync always, one persistent directory) killed with
# SIGKILL BP_CHAOS_ROUNDS times (default 2) while the pool works Bull's jobs, down for about
# two seconds, then started again on the same port from its AOF. Every job Bull was told was
# added must end completed or failed: a finish whose reply was lost is either in the AOF or
# the job is still active with its lock, and the worker records it again while the lock
# lasts (Bull's defaults). Recovery = from the restart to the next
# job completed. BP_CHAOS_JOBS (default 1000), 4 workers, sleep jobs of 20 ms.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init redis_restart
aof=(--appendonly yes --appendfsync always)
bp_redis_start "${aof[@]}"
jobs=${BP_CHAOS_JOBS:-1000}
rounds=${BP_CHAOS_ROUNDS:-2}
# Bull's defaults (max_stalled 1, lock 30 s, stalled check 30 s): a finish whose reply was
# lost is retried while the lock lasts, so the restart costs no stall at all
chaos_conf "$CHAOS_CONF" 4 '{ job = "*"; type = "sleep"; }'
chaos_pool_start
chaos_add "$jobs" work '{"ms":20}'

completed() { bp_rcli ZCARD "bull:$CHAOS_QUEUE:completed" 2>/dev/null || echo 0; }
completed_ge() { [ "$(completed)" -ge "$1" ]; }
recov=()
for r in $(seq 1 "$rounds"); do
    # let some work happen first, but leave some for after the restart
    target=$((jobs * r / (rounds + 2)))
    BP_WAIT_S=120 bp_wait_for completed_ge "$target" || bp_fail "round $r: stuck below $target completed"
    before=$(completed)
    kill -9 "$BP_REDIS_PID"
    wait "$BP_REDIS_PID" 2>/dev/null || true
    BP_REDIS_PID=
    echo "round $r: redis SIGKILLed at $before completed"
    sleep 2
    bp_redis_start "${aof[@]}"
    t0=$(chaos_now_ms)
    after=$(completed)
    [ "$after" -ge "$before" ] || bp_fail "round $r: completed went from $before to $after across the restart (AOF lost writes)"
    BP_WAIT_S=60 bp_wait_for completed_ge $((after + 1)) || { tail -30 "$CHAOS_LOG"; bp_fail "round $r: no job completed after the restart"; }
    recov+=($(($(chaos_now_ms) - t0)))
done
chaos_wait_settled 120
echo "reconnects logged: $(grep -c 'connection reopened' "$CHAOS_LOG" || true)"
chaos_report "restart to next completion: $(chaos_stats_ms "${recov[@]}")"
chaos_pool_stop
echo PASS
