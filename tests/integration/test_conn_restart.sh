#!/usr/bin/env bash
# test_conn_restart.sh -- Redis dies under a connection: a command in flight fails with a
# clean error (no hang, no crash), and once the server is back a fresh bp_conn_open works
# (the probe's reconnect loop uses the one backoff, bp_time.h).
. "$BP_SOURCE_DIR/tests/support/redis.sh"
PROBE=${BP_BUILD_DIR:-$BP_SOURCE_DIR/build/dev}/tests/bp_conn_probe
[ -x "$PROBE" ] || bp_fail "no probe at $PROBE (build the tests first)"
TLS=(--tls --host localhost --ca "$BP_CERTS/ca.crt")

bp_redis_start
TLS+=(--port "$BP_TLS_PORT")

# 1. killed mid-command: BLPOP 0 blocks forever, then the server is SIGKILLed
"$PROBE" "${TLS[@]}" block bp:never 0 >"$BP_TMP/block.out" 2>"$BP_TMP/block.err" &
probe_pid=$!
bp_track_pid $probe_pid
bp_wait_for sh -c "redis-cli --tls --cacert '$BP_CERTS/ca.crt' -p $BP_TLS_PORT CLIENT LIST | grep -q 'cmd=blpop'" ||
    bp_fail "the probe never blocked in BLPOP"
kill -KILL "$BP_REDIS_PID"
wait "$BP_REDIS_PID" 2>/dev/null
BP_REDIS_PID=
for _ in $(seq 1 100); do kill -0 $probe_pid 2>/dev/null || break; sleep 0.1; done
kill -0 $probe_pid 2>/dev/null && bp_fail "the probe still hangs 10 s after the server died"
wait $probe_pid
rc=$?
echo "killed mid-command: exit $rc: $(cat "$BP_TMP/block.err")"
[ $rc = 69 ] || bp_fail "expected exit 69, got $rc: $(cat "$BP_TMP/block.err")"
[ "$(wc -l <"$BP_TMP/block.err")" = 1 ] || bp_fail "not one line: $(cat "$BP_TMP/block.err")"
grep -qF "closed by the server" "$BP_TMP/block.err" || bp_fail "unclear: $(cat "$BP_TMP/block.err")"

# 2. restart: a PING loop loses the server, which comes back on the same port
bp_redis_start
"$PROBE" "${TLS[@]}" reconnect 60 >"$BP_TMP/re.out" 2>"$BP_TMP/re.err" &
probe_pid=$!
bp_track_pid $probe_pid
bp_wait_for grep -q '^connected' "$BP_TMP/re.out" || bp_fail "reconnect probe did not start"
kill -KILL "$BP_REDIS_PID"
wait "$BP_REDIS_PID" 2>/dev/null
BP_REDIS_PID=
bp_wait_for grep -q '^lost: ' "$BP_TMP/re.out" || bp_fail "the probe did not notice: $(cat "$BP_TMP/re.out")"
bp_redis_start
BP_WAIT_S=30 bp_wait_for sh -c "! kill -0 $probe_pid" || bp_fail "no reconnect within 30 s"
wait $probe_pid
rc=$?
cat "$BP_TMP/re.out"
[ $rc = 0 ] || bp_fail "reconnect probe exited $rc: $(cat "$BP_TMP/re.err")"
grep -q "^reconnected after [0-9]* attempts: rediss://localhost:$BP_TLS_PORT" "$BP_TMP/re.out" ||
    bp_fail "no reconnect line"
echo "PASS test_conn_restart"
