#!/usr/bin/env bash
# Job timeouts: opts.timeout and the queue's job_timeout_ms cancel a running job, which fails
# with Bull's own text and is retried per its attempts; `bullpen ctl`-free and
# signal-free: the worker's keeper enforces the deadline, the master is the backstop.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 1; handlers = ( { job = "*"; type = "sleep"; } ); },
  { name = "capped"; workers = 1; job_timeout_ms = 300; handlers = ( { job = "*"; type = "sleep"; } ); }'

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

failed_has() { [ -n "$(bp_rcli ZSCORE "bull:$1:failed" "$2")" ]; }
completed_has() { [ -n "$(bp_rcli ZSCORE "bull:$1:completed" "$2")" ]; }

# opts.timeout with two attempts: both runs time out, the job fails for good
id=$("$BULLPEN_BIN" enqueue -c "$conf" -q test nap '{"ms":10000}' --opts '{"timeout":400,"attempts":2}')
BP_WAIT_S=20 bp_wait_for failed_has test "$id" || { tail -20 "$log"; bp_fail "job $id did not fail"; }
reason=$(bp_rcli HGET "bull:test:$id" failedReason)
[ "$reason" = "Promise timed out after 400 milliseconds" ] || bp_fail "failedReason is '$reason'"
[ "$(bp_rcli HGET "bull:test:$id" attemptsMade)" = 2 ] || bp_fail "attemptsMade is not 2"
echo "ok: opts.timeout -> '$reason' after 2 attempts"

# a job within its timeout completes
id=$("$BULLPEN_BIN" enqueue -c "$conf" -q test nap '{"ms":50}' --opts '{"timeout":5000}')
BP_WAIT_S=10 bp_wait_for completed_has test "$id" || bp_fail "short job $id did not complete"
[ "$(bp_rcli HGET "bull:test:$id" returnvalue)" = '{"slept":50}' ] || bp_fail "sleep returnvalue differs"
echo "ok: a job inside its timeout completes"

# the queue's job_timeout_ms caps jobs without opts.timeout
id=$("$BULLPEN_BIN" enqueue -c "$conf" -q capped nap '{"ms":10000}')
BP_WAIT_S=10 bp_wait_for failed_has capped "$id" || { tail -20 "$log"; bp_fail "capped job $id did not fail"; }
reason=$(bp_rcli HGET "bull:capped:$id" failedReason)
[ "$reason" = "Promise timed out after 300 milliseconds" ] || bp_fail "capped failedReason is '$reason'"
echo "ok: job_timeout_ms -> '$reason'"

# the worker survived all of it (the keeper cancels; nobody had to be killed)
grep -q 'killing it' "$log" && bp_fail "a worker was killed; the keeper should have cancelled"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
