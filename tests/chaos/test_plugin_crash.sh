#!/usr/bin/env bash
# Chaos: a plugin handler (tests/plugins/chaos_plugin.c) that segfaults ("segv" jobs) and one
# that spins forever without looking at cancelled() ("spin" jobs, opts.timeout = 1000 and
# attempts = 2), mixed into a stream of echo jobs. Each segfault costs one worker, which the
# master replaces; the job counts as a stall and fails after max_stalled = 1 re-run. Each
# spin is killed by the job timeout and fails with Bull's own text after its two attempts.
# Every echo job completes byte for byte; none is lost. BP_CHAOS_JOBS echo jobs (default
# 500) with one segv per 100 and one spin per 250 (each crash lengthens that worker slot's
# respawn backoff, by design, so many crashes make a long run).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
chaos_init plugin_crash
# a real SIGSEGV, not the sanitizer's report of it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:handle_abort=0"
plugin=$BP_BUILD_DIR/tests/plugins/bp_chaos_plugin.so
if [ ! -f "$plugin" ]; then
    plugin=$BP_TMP/chaos_plugin.so
    "${CC:-cc}" -shared -fPIC -O1 -I"$BP_SOURCE_DIR/worker" -o "$plugin" \
        "$BP_SOURCE_DIR/tests/plugins/chaos_plugin.c" || bp_fail "cannot build the chaos plugin"
fi
bp_redis_start
jobs=${BP_CHAOS_JOBS:-500}
segv=$((jobs / 100)) spin=$((jobs / 250))
[ "$segv" -gt 0 ] || segv=1
[ "$spin" -gt 0 ] || spin=1
chaos_conf "$CHAOS_CONF" 4 "{ job = \"segv\"; type = \"plugin\"; path = \"$plugin\"; },
    { job = \"spin\"; type = \"plugin\"; path = \"$plugin\"; }, { job = \"*\"; type = \"echo\"; }" \
    'max_stalled = 1;'
chaos_pool_start
t0=$(chaos_now_ms)
half=$((jobs / 2))
chaos_add "$half" echo '{"n":1,"s":"éa\u0000z"}'
chaos_add "$segv" segv '{"boom":true}'
chaos_add "$spin" spin '{"loop":true}' '{"timeout":1000,"attempts":2}'
chaos_add $((jobs - half)) echo '{"n":2,"list":[1,2.5,"x"]}'
chaos_wait_settled 240
took=$(($(chaos_now_ms) - t0))

failed_of() { bp_rcli ZRANGE "bull:$CHAOS_QUEUE:failed" 0 -1 | while read -r id; do bp_rcli HGET "bull:$CHAOS_QUEUE:$id" name; done | grep -c "^$1\$" || true; }
fs=$(failed_of segv) fp=$(failed_of spin)
echo "segv jobs failed: $fs of $segv; spin jobs failed: $fp of $spin; SIGSEGV deaths logged:" \
    "$(grep -c 'killed by SIGSEGV' "$CHAOS_LOG" || true)"
[ "$fs" = "$segv" ] || bp_fail "not every segv job failed ($fs of $segv)"
[ "$fp" = "$spin" ] || bp_fail "not every spin job failed ($fp of $spin)"
id=$(bp_rcli ZRANGE "bull:$CHAOS_QUEUE:failed" 0 -1 | while read -r i; do
    [ "$(bp_rcli HGET "bull:$CHAOS_QUEUE:$i" name)" = spin ] && { echo "$i"; break; }; done)
reason=$(bp_rcli HGET "bull:$CHAOS_QUEUE:$id" failedReason)
echo "a spin job's failedReason: $reason"
[ "$reason" = "Promise timed out after 1000 milliseconds" ] || bp_fail "spin job $id: unexpected failedReason"
chaos_report "all $((jobs + segv + spin)) jobs settled in $took ms" --echo
BP_WAIT_S=60 bp_wait_for chaos_workers_are 4 || bp_fail "pool did not come back to 4 workers"
chaos_pool_stop
echo PASS
