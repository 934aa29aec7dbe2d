#!/usr/bin/env bash
# Redis stopped for 10 s under a running pool: no worker is killed for missing heartbeats,
# nothing crash-loops, every worker reconnects when Redis returns, and jobs added before
# and after the outage are all completed.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 3; handlers = ( { job = "*"; type = "echo"; } ); }'

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 3 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }
before=$(pgrep -P "$master" | sort | tr '\n' ' ')
for i in $(seq 1 10); do "$BULLPEN_BIN" enqueue -c "$conf" echo "{\"i\":$i}" >/dev/null; done
completed_are() { [ "$(bp_rcli ZCARD bull:test:completed)" -eq "$1" ]; }
bp_wait_for completed_are 10 || bp_fail "jobs before the outage not completed"

bp_redis_stop
echo "redis stopped at $(date +%T)"
sleep 10
bp_redis_start
echo "redis back at $(date +%T)"

reconnected() { [ "$(grep -c 'connection reopened' "$log")" -ge 3 ]; }
BP_WAIT_S=30 bp_wait_for reconnected || { tail -40 "$log"; bp_fail "workers did not reconnect"; }
after=$(pgrep -P "$master" | sort | tr '\n' ' ')
[ "$before" = "$after" ] || { tail -40 "$log"; bp_fail "workers were replaced during the outage: '$before' -> '$after'"; }
grep -q 'killing it' "$log" && { grep 'killing it' "$log"; bp_fail "a worker was killed during the outage"; }
kill -0 "$master" || bp_fail "master died"

# the restarted server is empty (no persistence): new jobs still flow
for i in $(seq 1 10); do "$BULLPEN_BIN" enqueue -c "$conf" echo "{\"j\":$i}" >/dev/null; done
BP_WAIT_S=20 bp_wait_for completed_are 10 || { tail -30 "$log"; bp_fail "jobs after the outage not completed"; }
conns() { [ "$(bp_rcli CLIENT LIST | grep -c 'name=\(bullpen:\|bull:dGVzdA==:bullpen\)')" -eq 11 ]; }
BP_WAIT_S=20 bp_wait_for conns || { bp_rcli CLIENT LIST; bp_fail "not all 3x3+2 connections came back"; }
echo "ok: 10 s outage, same 3 workers, all reconnected, jobs flow again"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $? after TERM"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
