#!/usr/bin/env bash
# Operations basics of the master: the pidfile (written with the master's pid, a second
# master refused naming it, removed at exit, a stale one taken over), `run -d` (the starter
# exits 0 only once the pool is ready, and with the daemon's code and message when start-up
# fails), and the process titles ps shows for the master and its workers.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
pidfile=$BP_TMP/run/bullpen.pid
mkdir -p "$BP_TMP/run"
bp_write_conf "$conf" "" "pidfile = \"$pidfile\";"
# the same, logging to a file (for -d, whose stderr is /dev/null)
sed 's|log = { level = "info"; };|log = { level = "info"; file = "'"$log"'"; };|' "$conf" > "$BP_TMP/daemon.conf"
grep -q "file = \"$log\"" "$BP_TMP/daemon.conf" || bp_fail "could not make daemon.conf"
# and one whose pool.user does not exist: dropping privileges fails after detaching
sed "s|pidfile = |user = \"no-such-user-bp\"; pidfile = |" "$BP_TMP/daemon.conf" > "$BP_TMP/nouser.conf"
grep -q 'no-such-user-bp' "$BP_TMP/nouser.conf" || bp_fail "could not make nouser.conf"

master_gone() { ! kill -0 "$1" 2>/dev/null; }
pidfile_is() { [ -f "$pidfile" ] && [ "$(cat "$pidfile")" = "$1" ]; }

# foreground master: pidfile holds its pid; a second master is refused naming it
"$BULLPEN_BIN" run -c "$conf" >"$BP_TMP/fg.log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready' "$BP_TMP/fg.log" || { cat "$BP_TMP/fg.log"; bp_fail "pool not ready"; }
bp_wait_for pidfile_is "$master" || bp_fail "pidfile does not hold the master's pid $master"
rc=0
"$BULLPEN_BIN" run -c "$conf" >"$BP_TMP/second.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || bp_fail "a second master started on the same pidfile"
grep -q "is locked by running bullpen (pid $master)" "$BP_TMP/second.log" ||
    { cat "$BP_TMP/second.log"; bp_fail "second master's refusal does not name pid $master"; }
echo "ok: pidfile holds $master; second master refused (exit $rc)"

# process titles
tr '\0' ' ' < "/proc/$master/cmdline" | grep -q '^bullpen: master' ||
    bp_fail "master title: $(tr '\0' ' ' < /proc/$master/cmdline)"
for w in $(pgrep -P "$master"); do
    tr '\0' ' ' < "/proc/$w/cmdline" | grep -q '^bullpen: worker' ||
        bp_fail "worker title: $(tr '\0' ' ' < /proc/$w/cmdline)"
done
echo "ok: ps shows '$(tr '\0' ' ' < /proc/$master/cmdline | sed 's/ *$//')'"

kill -TERM "$master"
BP_WAIT_S=20 bp_wait_for master_gone "$master" || bp_fail "master did not stop on TERM"
wait "$master" || bp_fail "master exited non-zero on TERM"
[ ! -e "$pidfile" ] || bp_fail "pidfile left behind after a clean stop"
echo "ok: pidfile removed at exit"

# a stale pidfile (no lock) is taken over; -d returns once the pool is ready
echo 999999 > "$pidfile"
rc=0
"$BULLPEN_BIN" run -c "$BP_TMP/daemon.conf" -d >"$BP_TMP/starter.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$BP_TMP/starter.out" "$log"; bp_fail "run -d exited $rc"; }
# ready means every worker's connections are up: both bclients are in CLIENT LIST already
bclients=$(bp_rcli CLIENT LIST | grep -c 'name=bull:dGVzdA==:bullpen:' || true)
[ "$bclients" -eq 2 ] || bp_fail "run -d returned before the pool was ready ($bclients of 2 bclients)"
daemon=$(cat "$pidfile")
bp_track_pid "$daemon"
kill -0 "$daemon" || bp_fail "daemon $daemon from the pidfile is not running"
[ "$(ps -o sid= -p "$daemon" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] ||
    bp_fail "daemon still in the test's session"
[ "$(readlink "/proc/$daemon/cwd")" = / ] || bp_fail "daemon's cwd is not /"
echo "ok: stale pidfile taken over; run -d returned after 'pool ready'; daemon $daemon detached"

# USR2: PATH.oldbin holds the old pid while the new master starts; when the new one is ready
# the old one drains and exits, and PATH holds the new pid
kill -USR2 "$daemon"
BP_WAIT_S=20 bp_wait_for master_gone "$daemon" || { tail -20 "$log"; bp_fail "old master $daemon still running after USR2"; }
new_master=$(cat "$pidfile")
bp_track_pid "$new_master"
[ "$new_master" != "$daemon" ] || bp_fail "pidfile still holds the old master after USR2"
kill -0 "$new_master" || { tail -20 "$log"; bp_fail "new master $new_master is not running"; }
bp_wait_for test ! -e "$pidfile.oldbin" || bp_fail "$pidfile.oldbin left behind"
grep -q 'upgrade: started the new master' "$log" || bp_fail "upgrade not logged"
echo "ok: USR2 -> new master $new_master in the pidfile, old $daemon gone, no .oldbin"
daemon=$new_master

kill -TERM "$daemon"
BP_WAIT_S=20 bp_wait_for master_gone "$daemon" || bp_fail "daemon did not stop on TERM"
bp_wait_for test ! -e "$pidfile" || bp_fail "daemon left its pidfile"

# -d when start-up fails after detaching (root only: pool.user is ignored otherwise): the
# starter exits with the daemon's code and prints its reason
if [ "$(id -u)" -eq 0 ]; then
    rc=0
    timeout 60 "$BULLPEN_BIN" run -c "$BP_TMP/nouser.conf" -d >"$BP_TMP/starter.out" 2>&1 || rc=$?
    [ "$rc" -eq 78 ] || { cat "$BP_TMP/starter.out"; bp_fail "run -d with an unknown pool.user exited $rc, expected 78"; }
    grep -q "bullpen: .*no-such-user-bp" "$BP_TMP/starter.out" ||
        { cat "$BP_TMP/starter.out"; bp_fail "starter did not relay the daemon's reason"; }
    [ ! -e "$pidfile" ] || bp_fail "a failed start left its pidfile"
    echo "ok: run -d with an unknown pool.user exits 78: $(head -1 "$BP_TMP/starter.out")"
else
    echo "skip: run -d start-up failure (needs root for pool.user)"
fi

if grep -E '\[(alert|crit)\]|Sanitizer|runtime error' "$log" "$BP_TMP/fg.log"; then
    bp_fail "alerts or sanitizer reports in the logs"
fi
echo "PASS test_ctl_pidfile"
