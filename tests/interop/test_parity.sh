#!/usr/bin/env bash
# test_parity.sh -- the rate limiter (with and without group_key), metrics, job logs and an
# unknown backoff type: the same jobs once under Bull's own worker (same limiter / metrics
# settings) and once under a bullpen pool, on the same Redis; parity.js compares the keys
# they leave (counters, parked jobs, limited sets and index, metrics hashes and lists, logs).
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_deps
bp_redis_start
BP_CONF=$BP_TMP/bullpen.conf
BP_EXEC=$BP_TMP/logger.sh
cat >"$BP_EXEC" <<'SH'
#!/bin/sh
# five stderr lines for the job log, a PROGRESS line (not logged), one long line (cut)
for i in 1 2 3 4 5; do echo "line $i" >&2; done
echo "PROGRESS 50" >&2
echo "long $(printf '%0100d' 0)" >&2
cat
SH
chmod +x "$BP_EXEC"
PLUGIN=$BP_BUILD_DIR/tests/plugins/bp_example_plugin.so
# Why the settings differ from the defaults: the limiter windows are 60 s so that no window
# ends while the test looks (a parked job's turn never comes during the check); grp-bp has
# one worker, like the Bull worker's concurrency 1, so the same jobs run and park; met-bp has
# one worker so that its finishes run in finishedOn order (the replayed metrics assume it).
bp_write_conf "$BP_CONF" "
  { name = \"lim-bp\"; workers = 2; limiter = { max = 2; duration_ms = 60000; };
    handlers = ( { job = \"*\"; type = \"echo\"; } ); },
  { name = \"grp-bp\"; workers = 1; limiter = { max = 1; duration_ms = 60000; group_key = \"user\"; };
    handlers = ( { job = \"*\"; type = \"echo\"; } ); },
  { name = \"met-bp\"; workers = 1; metrics = { max_data_points = 4; };
    handlers = ( { job = \"*\"; type = \"echo\"; }, { job = \"fail\"; type = \"fail\"; } ); },
  { name = \"log-bp\"; workers = 1; log_max_lines = 3; log_max_line_bytes = 64;
    handlers = ( { job = \"*\"; type = \"exec\"; argv = [\"$BP_EXEC\"]; },
                 { job = \"plugin\"; type = \"plugin\"; path = \"$PLUGIN\"; } ); },
  { name = \"bo-bp\"; workers = 1; handlers = ( { job = \"*\"; type = \"fail\"; } ); },
  { name = \"ret-bp\"; workers = 1; handlers = ( { job = \"*\"; type = \"echo\"; } ); },
  { name = \"lifo-bp\"; workers = 0; handlers = ( { job = \"*\"; type = \"echo\"; } ); },
  { name = \"mix-bp\"; workers = 2; limiter = { max = 2; duration_ms = 60000; };
    handlers = ( { job = \"*\"; type = \"echo\"; } ); },
  { name = \"flow-bp\"; workers = 2; limiter = { max = 2; duration_ms = 1000; };
    handlers = ( { job = \"*\"; type = \"echo\"; } ); }"
# a second pool (another "host") on lim-bp with the same limiter: the limit is shared
bp_write_conf "$BP_TMP/second.conf" "
  { name = \"lim-bp\"; workers = 2; limiter = { max = 2; duration_ms = 60000; };
    handlers = ( { job = \"*\"; type = \"echo\"; } ); }"
export BP_CONF BP_PROBE BP_TLS_PORT BP_CERTS BP_QUEUE=lim-bp BP_STATE=$BP_TMP/bull.json

# 1. Bull's worker on the *-bull queues; the same jobs are added to the *-bp queues
bp_node parity.js bull || bp_fail "parity: the Bull side (see above)"
# 2. bullpen on the *-bp queues (two pools on lim-bp), compared with what Bull left
# the limiter's delayed-channel messages, heard from before the pools start
bp_rcli SUBSCRIBE bull:lim-bp:delayed bull:grp-bp:delayed >"$BP_TMP/delayed.sub" 2>&1 &
bp_track_pid $!
bp_wait_for grep -q 'bull:grp-bp:delayed' "$BP_TMP/delayed.sub" || bp_fail "cannot subscribe the delayed channels"
export BP_DELAYED_SUB=$BP_TMP/delayed.sub
"$BULLPEN_BIN" run -c "$BP_TMP/second.conf" >"$BP_TMP/second.log" 2>&1 &
bp_track_pid $!
bp_pool_start
BP_WAIT_S=30 bp_wait_for grep -q "pool ready" "$BP_TMP/second.log" || bp_fail "the second pool did not start"
bp_node parity.js bullpen || { tail -20 "$BP_POOL_LOG" >&2; bp_fail "parity: bullpen differs from Bull (see above)"; }
"$BULLPEN_BIN" stats -c "$BP_CONF" -q lim-bp >"$BP_TMP/stats" || bp_fail "bullpen stats failed"
grep -qE '^lim-bp +0 +0 +2 +0 +4 +0 +4$' "$BP_TMP/stats" || { cat "$BP_TMP/stats" >&2; bp_fail "stats does not show 4 limited jobs"; }
"$BULLPEN_BIN" check -c "$BP_CONF" 2>&1 | grep -q 'at most 1 job started per 60000 ms over all workers, per value of data.user' ||
    bp_fail "check does not print the limiter"
bp_pool_check_log
! grep -E '\[(alert|crit)\]|Sanitizer' "$BP_TMP/second.log" || bp_fail "the second pool's log has alert/crit/sanitizer lines"
echo "ok: limiter, metrics, job logs and backoff as Bull's worker"
