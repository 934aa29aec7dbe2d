#!/usr/bin/env bash
# A job that finishes while Redis is down (restarted with AOF, appendfsync always): the
# worker keeps its result and records it when Redis is back, while the job's lock could
# still be its own; the job is completed once, not run again.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
mkdir -p "$BP_TMP/aof"
persist=(--appendonly yes --appendfsync always --dir "$BP_TMP/aof")
bp_redis_start "${persist[@]}"

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 1; handlers = ( { job = "*"; type = "sleep"; } ); }'
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready' "$log" || { cat "$log"; bp_fail "pool not ready"; }

id=$("$BULLPEN_BIN" enqueue -c "$conf" nap '{"ms":1500}')
has_lock() { [ -n "$(bp_rcli GET "bull:test:$id:lock")" ]; }
bp_wait_for has_lock || bp_fail "job $id not taken"
bp_redis_stop
sleep 3 # the job finishes in here, with Redis away
bp_redis_start "${persist[@]}"
done_() { [ -n "$(bp_rcli ZSCORE bull:test:completed "$id")" ]; }
BP_WAIT_S=30 bp_wait_for done_ || { tail -20 "$log"; bp_fail "job $id not completed after the outage"; }
grep -q "job $id of 'test': cannot record its outcome yet" "$log" || bp_fail "the outcome was not held over the outage"
[ -z "$(bp_rcli HGET "bull:test:$id" stalledCounter)" ] || bp_fail "job $id was run again (stalledCounter set)"
[ "$(bp_rcli HGET "bull:test:$id" returnvalue)" = '{"slept":1500}' ] || bp_fail "returnvalue differs"
echo "ok: job $id finished during a 3 s outage and was recorded once afterwards"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
