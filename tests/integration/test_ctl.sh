#!/usr/bin/env bash
# bullpen ctl against a real pool over TLS: refusals before any network traffic (no key: 78,
# usage: 64), Redis unreachable (69), no master listening (69); then with a running master:
# status table, pause/resume seen in the workers' states, scale up and down, --host for this
# host and for an unknown one (75), a wrong key (master logs "bad signature", client 75),
# an unsigned PUBLISH and a replayed command (both ignored and logged), shutdown.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
out=$BP_TMP/ctl.out
err=$BP_TMP/ctl.err
openssl rand -hex 32 > "$BP_TMP/control.key"
openssl rand -hex 32 > "$BP_TMP/wrong.key"
bp_write_conf "$conf" "" "control_key_file = \"$BP_TMP/control.key\";"
bp_write_conf "$BP_TMP/nokey.conf"
bp_write_conf "$BP_TMP/wrongkey.conf" "" "control_key_file = \"$BP_TMP/wrong.key\";"
sed "s/:$BP_TLS_PORT\//:$(bp_free_port)\//" "$conf" > "$BP_TMP/down.conf"

# ctl ARGS... : run bullpen ctl, stdout to $out, stderr to $err; sets rc
ctl() {
    rc=0
    "$BULLPEN_BIN" ctl "$@" >"$out" 2>"$err" || rc=$?
}
expect_rc() {
    [ "$rc" -eq "$1" ] || { cat "$out" "$err" >&2; bp_fail "$2: exit $rc, expected $1"; }
}
workers_of() { pgrep -P "$1" 2>/dev/null | sort -n; }
count_workers() { workers_of "$master" | wc -l; }
# rows of the status table in state $1
status_rows() {
    "$BULLPEN_BIN" ctl -c "$conf" status 2>/dev/null | awk -v s="$1" '$1 ~ /^[0-9]+$/ && $4 == s' | wc -l
}
# predicates for bp_wait_for (re-evaluated on every try, unlike "$(...)" arguments)
rows_in_state() { [ "$(status_rows "$1")" -eq "$2" ]; }
workers_are() { [ "$(count_workers)" -eq "$1" ]; }
completed_is() { [ "$(bp_rcli ZCARD bull:test:completed)" -eq "$1" ]; }
numsub_is() { [ "$(bp_rcli PUBSUB NUMSUB bullpen:control | tail -1)" -eq "$1" ]; }
master_gone() { ! kill -0 "$master" 2>/dev/null; }

# refusals that need no master
ctl -c "$BP_TMP/nokey.conf" status
expect_rc 78 "ctl without a control key"
grep -q 'pool.control_key_file' "$err" || bp_fail "no-key message does not name pool.control_key_file"
ctl -c "$conf" frobnicate
expect_rc 64 "unknown command"
ctl -c "$conf" scale lots
expect_rc 64 "scale without a number"
ctl -c "$conf" cancel
expect_rc 64 "cancel without an id"
ctl -c "$BP_TMP/down.conf" status
expect_rc 69 "Redis unreachable"
grep -q 'cannot connect' "$err" || bp_fail "unreachable message: $(cat "$err")"
ctl -c "$conf" status
expect_rc 69 "no master listening"
grep -q 'no master is listening' "$err" || bp_fail "no-master message: $(cat "$err")"
echo "ok: refusals (78, 64, 69, 69)"

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers on test' "$log" || { cat "$log"; bp_fail "pool not ready"; }

# status: one table for this master, one row per worker, the real pids
ctl -c "$conf" status
expect_rc 0 "status"
grep -q "master pid $master" "$out" || { cat "$out"; bp_fail "status does not show master pid $master"; }
for pid in $(workers_of "$master"); do
    awk -v p="$pid" '$2 == p' "$out" | grep -q test || { cat "$out"; bp_fail "worker $pid missing from status"; }
done
[ "$(awk '$1 ~ /^[0-9]+$/' "$out" | wc -l)" -eq 2 ] || { cat "$out"; bp_fail "status does not list 2 workers"; }
echo "ok: status lists master $master and its 2 workers"

# pause / resume, observed through the workers' reported states
ctl -c "$conf" pause
expect_rc 0 "pause"
grep -q ' ok' "$out" || bp_fail "pause reply not ok: $(cat "$out")"
bp_wait_for rows_in_state paused 2 || bp_fail "workers not paused after ctl pause"
ctl -c "$conf" resume
expect_rc 0 "resume"
bp_wait_for rows_in_state idle 2 || bp_fail "workers not idle after ctl resume"
"$BULLPEN_BIN" enqueue -c "$conf" echo '{"after":"resume"}' >/dev/null
bp_wait_for completed_is 1 || bp_fail "job not worked after resume"
echo "ok: pause/resume"

# scale up and back down
ctl -c "$conf" scale 3
expect_rc 0 "scale 3"
bp_wait_for workers_are 3 || bp_fail "scale 3 did not start a third worker"
ctl -c "$conf" scale test=2
expect_rc 0 "scale test=2"
BP_WAIT_S=20 bp_wait_for workers_are 2 || bp_fail "scale test=2 did not retire a worker"
echo "ok: scale 3, scale test=2"

# --host: this host answers; an unknown host does not (after the reply timeout)
ctl -c "$conf" --host "$(hostname)" status
expect_rc 0 "--host $(hostname)"
ctl -c "$conf" --host no-such-host.invalid status
expect_rc 75 "--host of an unknown host"
grep -q "no master on host 'no-such-host.invalid'" "$err" || bp_fail "unknown-host message: $(cat "$err")"
echo "ok: --host"

# cancel of a job no worker runs fails
ctl -c "$conf" cancel 999999
expect_rc 1 "cancel of a job nobody runs"
echo "ok: cancel of an unknown job exits 1"

# a wrong key: the master refuses and says why; the client reports the silence
ctl -c "$BP_TMP/wrongkey.conf" status
expect_rc 75 "wrong key"
grep -q '1 of 1 masters did not answer' "$err" || bp_fail "wrong-key client message: $(cat "$err")"
bp_wait_for grep -q 'ignored ctl message: bad signature; check pool.control_key_file' "$log" ||
    bp_fail "master did not log the bad signature"
echo "ok: wrong key refused (client 75, master logs bad signature)"

# unsigned: anyone who can PUBLISH cannot shut the pool down
bp_rcli PUBLISH bullpen:control '{"v":1,"cmd":"shutdown","arg":"","host":""}' >/dev/null
bp_wait_for grep -q 'ignored ctl message: unsigned' "$log" || bp_fail "unsigned message not logged"
kill -0 "$master" || bp_fail "master died from an unsigned shutdown"
echo "ok: unsigned shutdown ignored"

# replay: capture a signed pause off the channel, then publish it again after resume
cap=$BP_TMP/capture
bp_rcli --raw SUBSCRIBE bullpen:control >"$cap" 2>&1 &
capturer=$!
bp_track_pid "$capturer"
bp_wait_for numsub_is 2 || bp_fail "capturer not subscribed"
ctl -c "$conf" pause # 2 receivers now, one of them silent: exit 75 is expected
expect_rc 75 "pause with a silent extra subscriber"
bp_wait_for grep -q '"cmd":"pause"' "$cap" || bp_fail "pause not captured"
pkill -TERM -P "$capturer" || true # redis-cli runs as a child of the backgrounded function
kill "$capturer" 2>/dev/null || true
captured=$(grep '"cmd":"pause"' "$cap" | head -1)
bp_wait_for numsub_is 1 || bp_fail "capturer still subscribed"
ctl -c "$conf" resume
expect_rc 0 "resume before the replay"
bp_wait_for rows_in_state idle 2 || bp_fail "workers not idle before the replay"
bp_rcli PUBLISH bullpen:control "$captured" >/dev/null
# "replayed" normally; "stale" is the right refusal too if a loaded machine took > 30 s
bp_wait_for grep -qE 'ignored ctl message: (replayed|stale)' "$log" || bp_fail "replay not refused"
[ "$(status_rows idle)" -eq 2 ] || bp_fail "the replayed pause paused workers"
echo "ok: replayed pause refused"

# shutdown through ctl: the master stops and exits 0
ctl -c "$conf" shutdown
expect_rc 0 "shutdown"
BP_WAIT_S=20 bp_wait_for master_gone || bp_fail "master still running after ctl shutdown"
mrc=0
wait "$master" || mrc=$?
[ "$mrc" -eq 0 ] || bp_fail "master exited $mrc after ctl shutdown"
echo "ok: shutdown"

if grep -E '\[(alert|crit)\]|Sanitizer|runtime error' "$log"; then
    bp_fail "alerts or sanitizer reports in the master log"
fi
echo "PASS test_ctl"
