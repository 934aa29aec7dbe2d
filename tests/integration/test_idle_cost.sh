#!/usr/bin/env bash
# What an idle pool costs Redis, with the default health and pull settings (pool.heartbeat_ms,
# probe_ms, block_timeout_s, stalled_interval_ms all defaults; this test sets none of them):
# over 40 s of an idle pool of 2 workers, every client command the pool sends is counted with
# MONITOR (those run inside scripts excluded). Issue 13's bound is 0.1 command/s per worker
# plus 0.1 for the master: 12 commands here; the design sends about 3 (a pull per worker per
# 30 s, the master's stalled check every 30 s, a ping and its echoes every 60 s). Meanwhile the
# local heartbeats keep the pool healthy: no worker is killed, SIGSTOP still is found.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
cat >"$conf" <<CONF
redis = { url = "rediss://localhost:$BP_TLS_PORT/0"; tls = { ca_file = "$BP_CERTS/ca.crt"; }; };
pool = { shutdown_timeout_ms = 5000; };
queues = ( { name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; } ); } );
log = { level = "info"; };
CONF
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }
sleep 3 # start-up (handshakes, first ping, first stalled check) is not idle cost
mon=$BP_TMP/monitor
bp_rcli MONITOR >"$mon" &
monpid=$!
bp_track_pid "$monpid"
sleep 40
kill "$monpid"
# a MONITOR line: <time> [<db> <client or lua>] "COMMAND" ...
total=$(grep -c '^[0-9]' "$mon" || true)
inlua=$(grep -c '^[0-9.]* \[[0-9]* lua\]' "$mon" || true)
sent=$((total - inlua))
echo "idle 40 s, 2 workers: $sent client commands ($(grep -v ' lua\]' "$mon" | grep -o '] "[A-Za-z]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
[ "$sent" -le 12 ] || { grep -v ' lua\]' "$mon"; bp_fail "$sent commands in 40 s idle: over 0.1/s per worker + 0.1/s for the master"; }
grep -q 'killing it' "$log" && bp_fail "a worker was killed while idle: $(grep 'killing it' "$log")"
[ "$(pgrep -P "$master" | wc -l)" -eq 2 ] || bp_fail "workers missing"

# a hung worker is still found within hung_after_ms (10 s) by the local heartbeat alone
victim=$(pgrep -P "$master" | head -1)
kill -STOP "$victim"
gone() { ! kill -0 "$victim" 2>/dev/null; }
BP_WAIT_S=20 bp_wait_for gone || bp_fail "a SIGSTOPped idle worker was not found"
grep -q "no heartbeat for" "$log" || bp_fail "the verdict is not the local heartbeat's"
echo "ok: an idle pool sent $sent commands in 40 s; a stopped worker was still found"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
echo PASS
