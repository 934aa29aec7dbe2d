#!/usr/bin/env bash
# The keeper's lock renewal racing a job's finish (issue 11, seen with bull-board): a renewal
# that runs right after the finish script deleted the lock must know the job has changed
# and stay silent, not warn "lock lost" for a job recorded completed. lock_renew_ms = 1 here
# (Bull's default is lock_duration_ms / 2 = 15 s) so that nearly every job's finish races a
# renewal: the race is the subject of the test. Then a TERM to a pool whose workers are all
# idle: none of them says it is "finishing" a job.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 2; lock_renew_ms = 1; handlers = ( { job = "*"; type = "sleep"; } ); }'
sed -i 's/level = "info"/level = "debug"/' "$conf"
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

n=60
for i in $(seq 1 $n); do "$BULLPEN_BIN" enqueue -c "$conf" sleep "{\"ms\":$((i % 7 + 1))}" >/dev/null; done
done_() { [ "$(bp_rcli ZCARD bull:test:completed)" = "$n" ]; }
BP_WAIT_S=60 bp_wait_for done_ || { tail -20 "$log"; bp_fail "not all $n jobs completed"; }
raced=$(grep -c 'finished while its lock was being renewed' "$log" || true)
lost=$(grep -c 'lock lost' "$log" || true)
echo "$n jobs completed; renewals that raced a finish (silent): $raced; 'lock lost' warnings: $lost"
[ "$lost" = 0 ] || { grep 'lock lost' "$log" | head -5; bp_fail "'lock lost' warned for jobs recorded completed"; }

# every worker idle: the stop says so, and nobody claims to finish a job
idle() { [ "$(ps -o args= --ppid "$master" | grep -c 'worker .* idle')" = 2 ]; }
BP_WAIT_S=10 bp_wait_for idle || bp_fail "workers not idle"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -q 'finishing' "$log" && { grep 'finishing' "$log"; bp_fail "an idle worker said it was finishing a job"; }
[ "$(grep -c 'stopping: idle, no job to finish' "$log")" = 2 ] || bp_fail "the idle workers did not say they stop idle"
if grep -E '\[(alert|crit)\]|Sanitizer|runtime error:' "$log"; then bp_fail "alert, crit or sanitizer lines in the log"; fi
echo PASS
