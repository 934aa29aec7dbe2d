#!/usr/bin/env bash
# test_init_script.sh -- scripts/bullpen.init drives a real bullpen against a real TLS redis:
# status codes, start (check first, refuses a bad config with its output), reload (HUP),
# restart that must not stop a running pool for a bad config, stale pidfile, stop timeout
# with a job still running, stop.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"

init=$BP_SOURCE_DIR/scripts/bullpen.init
bp_redis_start
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf"
sed -i "s|^log = { level = \"info\"; };|log = { level = \"info\"; file = \"$log\"; };|" "$conf"
grep -q "file = \"$log\"" "$conf" || bp_fail "could not point the log at $log"

export BULLPEN_CONF=$conf BULLPEN_PIDFILE=$BP_TMP/run/bullpen.pid BULLPEN_DEFAULTS=/dev/null
export BULLPEN_BIN
pidfile=$BULLPEN_PIDFILE

# run the init script; sets rc and out
init_do() {
    set +e
    out=$(sh "$init" "$@" 2>&1)
    rc=$?
    set -e
    echo "init $*: rc=$rc: $out"
}
expect_rc() {
    [ "$rc" = "$1" ] || bp_fail "expected exit $1, got $rc: $out"
}
master_pid() { tr -cd '0-9' <"$pidfile"; }
# alive and not a zombie (the daemon's parent is init, which may reap it late)
alive() { [ -r "/proc/$1/stat" ] && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"; }

init_do status
expect_rc 3

init_do start
expect_rc 0
pid=$(master_pid)
[ -n "$pid" ] && alive "$pid" || bp_fail "no master after start (pidfile: $(cat "$pidfile" 2>&1))"
bp_track_pid "$pid"
init_do status
expect_rc 0
[[ $out == *"running (pid $pid)"* ]] || bp_fail "status does not name pid $pid: $out"
init_do start
expect_rc 0
[[ $out == *"already running"* ]] || bp_fail "second start: $out"

# reload: HUP, the master stays
init_do reload
expect_rc 0
sleep 0.5
alive "$pid" || bp_fail "master $pid died on reload"

# a bad config: restart and reload refuse before touching the running pool
bad=$BP_TMP/bad.conf
cp "$conf" "$bad"
echo 'no_such_key = 1;' >>"$bad"
BULLPEN_CONF=$bad init_do restart
expect_rc 6
[[ $out == *no_such_key* ]] || bp_fail "restart did not show check's output: $out"
BULLPEN_CONF=$bad init_do reload
expect_rc 6
alive "$pid" || bp_fail "a refused restart stopped master $pid"
[ "$(master_pid)" = "$pid" ] || bp_fail "the pidfile changed after a refused restart"

# stop with a job still running: a short timeout reports, a long one stops
"$BULLPEN_BIN" enqueue -c "$conf" -q test sleep '{"ms": 60000}' >/dev/null
BP_WAIT_S=60 bp_wait_for sh -c "[ \"\$(redis-cli --tls --cacert '$BP_CERTS/ca.crt' -h 127.0.0.1 \
    -p $BP_TLS_PORT LLEN bull:test:active)\" = 1 ]" || bp_fail "the sleep job never became active"
BULLPEN_STOP_TIMEOUT=1 init_do stop
expect_rc 1
[[ $out == *"still running"* ]] || bp_fail "stop timeout not reported: $out"
alive "$pid" || bp_fail "master gone although stop reported a timeout"
init_do stop
expect_rc 0
! alive "$pid" || bp_fail "master $pid still alive after stop"
[ ! -e "$pidfile" ] || bp_fail "pidfile left after a clean stop"
init_do status
expect_rc 3
init_do stop
expect_rc 0
init_do reload
expect_rc 7

# a pidfile left by a crash: status 1, start takes over
mkdir -p "$(dirname "$pidfile")"
echo 999999 >"$pidfile"
init_do status
expect_rc 1
init_do start
expect_rc 0
pid=$(master_pid)
bp_track_pid "$pid"
[ "$pid" != 999999 ] || bp_fail "start did not take over the stale pidfile"
init_do stop
expect_rc 0

# start with a bad config refuses with check's output; a missing binary is "not installed"
BULLPEN_CONF=$bad init_do start
expect_rc 6
[[ $out == *no_such_key* ]] || bp_fail "start did not show check's output: $out"
init_do status
expect_rc 3
BULLPEN_BIN=$BP_TMP/nonexistent init_do start
expect_rc 5
init_do bogus
expect_rc 2

if grep -E '\[(alert|crit)\]|Sanitizer' "$log"; then
    bp_fail "the daemon log has alert/crit/sanitizer lines"
fi
echo "PASS test_init_script"
