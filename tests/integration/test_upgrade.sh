#!/usr/bin/env bash
# Zero-downtime binary upgrade on USR2, nginx style: the pidfile becomes PATH.oldbin for the
# old master, the new master starts its workers and then stops the old one, which drains and
# exits. Jobs added before, during and after the upgrade are each completed exactly once.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
pidfile=$BP_TMP/bullpen.pid
bp_write_conf "$conf" '{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "sleep"; } ); }'

# every completed event, to see that no job is finished twice
bp_rcli SUBSCRIBE bull:test:completed > "$BP_TMP/events" 2>/dev/null &
bp_track_pid $!

"$BULLPEN_BIN" run -c "$conf" --pidfile "$pidfile" >"$log" 2>&1 &
old=$!
bp_track_pid "$old"
bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }
[ "$(cat "$pidfile")" = "$old" ] || bp_fail "pidfile does not hold the master's pid"

add() { "$BULLPEN_BIN" enqueue -c "$conf" nap '{"ms":100}' >/dev/null; }
for i in $(seq 1 20); do add; done

kill -USR2 "$old"
new_up() { [ -f "$pidfile" ] && [ -f "$pidfile.oldbin" ] && [ "$(cat "$pidfile")" != "$old" ]; }
# while the two masters overlap, keep adding
for i in $(seq 1 20); do add; done
old_gone() { ! kill -0 "$old" 2>/dev/null; }
BP_WAIT_S=30 bp_wait_for old_gone || { tail -30 "$log"; bp_fail "the old master did not stop after the upgrade"; }
wait "$old" 2>/dev/null || true
new=$(cat "$pidfile")
[ "$new" != "$old" ] || bp_fail "pidfile still holds the old pid"
bp_track_pid "$new"
kill -0 "$new" || bp_fail "the new master ($new) is not running"
[ -f "$pidfile.oldbin" ] && bp_fail "PATH.oldbin left behind"
grep -q "upgrade: asking the old master (pid $old) to stop" "$log" || bp_fail "the new master did not take over"
for i in $(seq 1 20); do add; done

all_done() { [ "$(bp_rcli ZCARD bull:test:completed)" -eq 60 ]; }
BP_WAIT_S=30 bp_wait_for all_done || { tail -30 "$log"; bp_fail "not all 60 jobs completed: $(bp_rcli ZCARD bull:test:completed)"; }
sleep 0.5
dups=$(grep -o '"jobId":"[^"]*"' "$BP_TMP/events" | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || bp_fail "$dups jobs were completed twice"
events=$(grep -c '"jobId"' "$BP_TMP/events")
[ "$events" -eq 60 ] || bp_fail "expected 60 completed events, saw $events"
echo "ok: USR2: old $old -> new $new, 60 jobs each completed once, pidfile handed over"
kill -TERM "$new"
gone_new() { ! kill -0 "$new" 2>/dev/null; }
BP_WAIT_S=15 bp_wait_for gone_new || bp_fail "new master did not stop"
[ -f "$pidfile" ] && bp_fail "pidfile left after stop"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
