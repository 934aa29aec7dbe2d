#!/usr/bin/env bash
# A master that refuses writes for want of replicas (its min-replicas-to-write: NOREPLICAS,
# also from inside a script) is an outage, not a job's failure: the pool waits with its
# backoff, fails nothing, never exits 78, and records every job once the replicas are
# back. Both places are hit: a pull (jobs waiting when the pool starts) and the completion
# of a job that was running when the master began to refuse.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf"
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

# a running job whose completion meets NOREPLICAS
id=$("$BULLPEN_BIN" enqueue -c "$conf" -q test sleep '{"ms":1500}')
busy() { ps -o args= --ppid "$master" | grep -q "busy job $id "; }
BP_WAIT_S=10 bp_wait_for busy || bp_fail "job $id did not start"
for i in 1 2 3 4; do "$BULLPEN_BIN" enqueue -c "$conf" -q test echo "{\"i\":$i}" >/dev/null; done
bp_rcli CONFIG SET min-replicas-to-write 1 >/dev/null
refused() { [ "$(grep -c 'NOREPLICAS' "$log")" -ge 2 ]; }
BP_WAIT_S=30 bp_wait_for refused || { cat "$log"; bp_fail "the pool never met NOREPLICAS"; }
sleep_done() { ! busy; }
BP_WAIT_S=10 bp_wait_for sleep_done || bp_fail "job $id still running"
grep -q "job $id of 'test': cannot record its outcome yet" "$log" ||
    { cat "$log"; bp_fail "the completion of job $id did not meet NOREPLICAS"; }
[ "$(bp_rcli ZCARD bull:test:failed)" = 0 ] || { cat "$log"; bp_fail "NOREPLICAS failed a job"; }
kill -0 "$master" || { cat "$log"; bp_fail "the pool exited on NOREPLICAS"; }
bp_rcli CONFIG SET min-replicas-to-write 0 >/dev/null
done5() { [ "$(bp_rcli ZCARD bull:test:completed)" = 5 ]; }
BP_WAIT_S=60 bp_wait_for done5 || { tail -30 "$log"; bp_fail "jobs not completed after the replicas came back"; }
[ "$(bp_rcli ZCARD bull:test:failed)" = 0 ] || bp_fail "NOREPLICAS failed a job"
sc=$(bp_rcli HGET "bull:test:$id" stalledCounter)
[ "${sc:-0}" = 0 ] || bp_fail "job $id counted a stall ($sc)"
if grep -E '\[(alert|crit)\]|Sanitizer|runtime error:|status 78' "$log"; then bp_fail "bad lines in the log"; fi
echo "ok: NOREPLICAS held the pool ($(grep -c NOREPLICAS "$log") log lines), 5 of 5 jobs completed after, 0 failed"
