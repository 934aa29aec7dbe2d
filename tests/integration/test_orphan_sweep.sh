#!/usr/bin/env bash
# A worker killed between its BRPOPLPUSH and the take leaves a job in active with no lock:
# no token finds it. After any worker death the master closes the dead worker's
# connections, lists the unlocked jobs in active and settles them a second later, so such a
# job is back in wait and done within seconds, not stalled-check intervals (30 s each, the
# default). A job that was never run in this attempt (no processedOn here) costs no stall;
# one whose processedOn is older than the lock duration cannot be told from a stalled run
# and counts one, as Bull's checker would.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 2; stalled_interval_ms = 30000; handlers = ( { job = "*"; type = "echo"; } ); }'
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

# an orphan: in active as a dying worker's BRPOPLPUSH leaves it, never locked (pushed there
# directly: through wait, a blocked pull would take it at once)
bp_rcli HSET bull:test:orphan name echo data '{"o":1}' opts '{}' timestamp 1 delay 0 priority 0 >/dev/null
bp_rcli HSET bull:test:old name echo data '{"o":2}' opts '{}' timestamp 1 delay 0 priority 0 processedOn 1000 >/dev/null
bp_rcli LPUSH bull:test:active orphan old >/dev/null
victim=$(pgrep -P "$master" | head -1)
t0=$(date +%s%N)
kill -9 "$victim"
done_() { [ -n "$(bp_rcli ZSCORE bull:test:completed orphan)" ] && [ -n "$(bp_rcli ZSCORE bull:test:completed old)" ]; }
BP_WAIT_S=15 bp_wait_for done_ || { tail -20 "$log"; bp_fail "the orphaned job was not recovered by the sweep"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -z "$(bp_rcli HGET bull:test:orphan stalledCounter)" ] || bp_fail "a job never run counted a stall"
[ "$(bp_rcli HGET bull:test:old stalledCounter)" = 1 ] || bp_fail "a job with an old processedOn: stalledCounter is not 1"
grep -q "sweep of 'test' after a worker died: 2 jobs pulled but never locked moved back (1 not counted as a stall" "$log" ||
    { tail -20 "$log"; bp_fail "the sweep did not say what it did"; }
echo "ok: orphaned jobs recovered and completed $ms ms after the worker died (stalled interval 30 s)"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
