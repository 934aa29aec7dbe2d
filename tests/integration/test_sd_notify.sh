#!/usr/bin/env bash
# test_sd_notify.sh -- what systemd hears from a master under Type=notify, with a datagram
# socket of our own standing in for systemd's NOTIFY_SOCKET: READY=1 once the pool is up,
# WATCHDOG=1 pings while WATCHDOG_USEC/WATCHDOG_PID name the master, RELOADING=1 then
# READY=1 around a HUP, STOPPING=1 on TERM. Nothing from the workers.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
# libsystemd is opened with dlopen() (master/bp_notify.c): a build with it names the library
grep -q 'libsystemd\.so\.0' "$BULLPEN_BIN" || {
    echo "SKIP: bullpen built without libsystemd"
    exit 0
}
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
sock=$BP_TMP/notify.sock
heard=$BP_TMP/notify.txt
bp_write_conf "$conf"

# systemd's side: every datagram on one line ("\n" inside shown as "|"), with its sender pid
python3 - "$sock" "$heard" <<'PY' &
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iii", data[:12])[0]
        out.write("%d %s\n" % (pid, msg.decode().replace("\n", "|")))
PY
bp_track_pid $!
bp_wait_for test -S "$sock" || bp_fail "the notify listener did not start"

# WATCHDOG_PID must be the master's pid: exec keeps the shell's pid
NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 \
    sh -c 'WATCHDOG_PID=$$ exec "$0" run -c "$1"' "$BULLPEN_BIN" "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
heard_from_master() { grep -q "^$master $1" "$heard"; }

BP_WAIT_S=30 bp_wait_for heard_from_master 'READY=1' ||
    { cat "$heard" "$log"; bp_fail "no READY=1 from master $master"; }
grep -q 'pool ready' "$log" || bp_fail "READY=1 before the log says the pool is ready"
# pinged again and again, at least once per WatchdogSec (2 s): 3 pings within 15 s
pings_at_least() { [ "$(grep -c "^$master WATCHDOG=1" "$heard")" -ge "$1" ]; }
BP_WAIT_S=15 bp_wait_for pings_at_least 3 ||
    { cat "$heard"; bp_fail "fewer than 3 WATCHDOG=1 in 15 s with WATCHDOG_USEC=2000000"; }
echo "ok: READY=1 and repeated WATCHDOG=1 from the master"

readies() { grep -c "^$master READY=1" "$heard" || true; }
before=$(readies)
kill -HUP "$master"
BP_WAIT_S=30 bp_wait_for heard_from_master 'RELOADING=1|MONOTONIC_USEC=' ||
    { cat "$heard"; bp_fail "no RELOADING=1 after HUP"; }
more_ready() { [ "$(readies)" -gt "$before" ]; }
BP_WAIT_S=30 bp_wait_for more_ready || { cat "$heard"; bp_fail "no READY=1 after the reload"; }
echo "ok: HUP -> RELOADING=1, then READY=1"

kill -TERM "$master"
BP_WAIT_S=30 bp_wait_for heard_from_master 'STOPPING=1' || { cat "$heard"; bp_fail "no STOPPING=1 on TERM"; }
BP_WAIT_S=30 bp_wait_for sh -c "! kill -0 $master 2>/dev/null" || bp_fail "master did not stop"

# only the master speaks (the unit says NotifyAccess=main)
if grep -v "^$master " "$heard"; then
    bp_fail "messages from processes other than the master $master"
fi
if grep -E '\[(alert|crit)\]|Sanitizer' "$log"; then
    bp_fail "the daemon log has alert/crit/sanitizer lines"
fi
echo "PASS test_sd_notify"
