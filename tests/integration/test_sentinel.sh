#!/usr/bin/env bash
# A pool on Redis Sentinel (1 master + 2 replicas + 3 sentinels, all TLS on loopback):
# bad redis.sentinel settings refused with the reason; `bullpen check` lists the sentinels,
# the master they agree on and its replicas; the master and every worker connection follow
# a kill -9 failover and a graceful SENTINEL FAILOVER (+switch-master logged, all roles on
# the new master, jobs enqueued after each failover completed) with no crash loop.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
. "$BP_SOURCE_DIR/tests/support/topology.sh"
bp_sentinel_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
write_conf() { # write_conf SENTINEL_GROUP [REDIS_EXTRA]
    cat >"$conf" <<CONF
redis = {
  url = "rediss://not-used.invalid/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  $1
  ${2:-}
};
pool = { heartbeat_ms = 200; hung_after_ms = 3000; shutdown_timeout_ms = 5000; };
queues = ( { name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; } ); } );
CONF
}
refused() { # refused EXPECTED_TEXT: bullpen check exits 78 and says it
    local out rc=0
    out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) || rc=$?
    [ "$rc" -eq 78 ] || { echo "$out"; bp_fail "check exited $rc, not 78, for: $1"; }
    echo "$out" | grep -qF "$1" || { echo "$out"; bp_fail "check did not say: $1"; }
}

# ---- refusals: each names the key, what is wrong and what to do
write_conf 'sentinel = { nodes = [ "127.0.0.1:1" ]; };'
refused 'redis.sentinel.master_name: missing'
write_conf 'sentinel = { master_name = "mymaster"; nodes = [ "127.0.0.1" ]; };'
refused 'is not "host:port"'
write_conf 'sentinel = { master_name = "mymaster"; nodes = [ ]; };'
refused 'nodes: is empty'
write_conf 'sentinel = { master_name = "mymaster"; nodes = [ "127.0.0.1:1" ]; };' \
    'cluster = { nodes = [ "127.0.0.1:2" ]; };'
refused 'keep one of them'
write_conf "sentinel = { master_name = \"nosuch\"; nodes = [ \"127.0.0.1:${BP_SENTINEL_PORTS[0]}\" ]; };"
refused "does not monitor a master named 'nosuch'"
echo "ok: bad redis.sentinel settings refused with the reason"

# ---- check: the sentinels reached, the master they agree on, its replicas
write_conf "$(bp_sentinel_conf_group)"
out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) || { echo "$out"; bp_fail "check failed on a healthy topology"; }
[ "$(echo "$out" | grep -c "^ok      sentinel 127.0.0.1:.* names master 'mymaster' at 127.0.0.1:${BP_DATA_PORTS[0]}")" -eq 3 ] ||
    { echo "$out"; bp_fail "check does not show 3 sentinels naming the master"; }
echo "$out" | grep -q "3 of 3 sentinels reached; they agree" || { echo "$out"; bp_fail "no agreement line"; }
[ "$(echo "$out" | grep -c '^ok      replica 127.0.0.1:')" -eq 2 ] || { echo "$out"; bp_fail "check does not list 2 replicas"; }
echo "ok: check shows 3 sentinels, the master and 2 replicas"

# ---- the pool
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers on test' "$log" || { cat "$log"; bp_fail "pool not ready"; }
mport=$(bp_sentinel_master_port)
bullpen_conns_on() { bp_cli_port "$1" CLIENT LIST | grep -c 'name=\(bullpen:\|bull:dGVzdA==:bullpen\)' || true; }
conns_on() { [ "$(bullpen_conns_on "$1")" -eq 8 ]; }
# on a loaded machine the sentinels (down-after-milliseconds 1000) may fail over once more
# before the pool has settled: the pool must follow every move, so the check is against the
# master the sentinels name now, read afresh on every poll
conns_on_current() { conns_on "$(bp_sentinel_master_port)"; }
bp_wait_for conns_on "$mport" || bp_fail "expected 8 connections on the master, got $(bullpen_conns_on "$mport")"
completed_on() { [ "$(bp_cli_port "$(bp_sentinel_master_port)" ZCARD bull:test:completed)" -eq "$1" ]; }
enqueue() { for _ in $(seq 1 "$1"); do "$BULLPEN_BIN" enqueue -c "$conf" echo '{"x":1}' >/dev/null; done; }
enqueue 5
bp_wait_for completed_on 5 || bp_fail "5 jobs not completed before the failover"
echo "ok: pool on master 127.0.0.1:$mport, 8 connections, 5 jobs"

# ---- kill -9 the master: the sentinels promote a replica, every role follows
failover_to_new() { # failover_to_new OLD_PORT: wait until the sentinels name another master
    moved() { [ "$(bp_sentinel_master_port)" != "$1" ]; }
    BP_WAIT_S=30 bp_wait_for moved "$1" || bp_fail "the sentinels did not fail over from $1"
}
t0=$(date +%s%N)
kill -9 "$(bp_pid_of_port "$mport")"
failover_to_new "$mport"
BP_WAIT_S=30 bp_wait_for conns_on_current || { tail -30 "$log"; new=$(bp_sentinel_master_port); bp_fail "not all 8 connections moved to $new (got $(bullpen_conns_on "$new"))"; }
new=$(bp_sentinel_master_port)
echo "ok: kill -9 master $mport -> all 8 connections on $new after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
grep -q "sentinel: master 'mymaster' moved from 127.0.0.1:$mport to 127.0.0.1:[0-9]* (+switch-master)" "$log" ||
    bp_fail "no +switch-master line in the log"
enqueue 5
BP_WAIT_S=30 bp_wait_for completed_on 10 || { tail -30 "$log"; bp_fail "jobs after the failover not completed"; }
echo "ok: 5 jobs enqueued and completed after the kill -9 failover"

# ---- graceful SENTINEL FAILOVER: the old master is alive and demoted (a replica now)
old=$new
bp_cli_port "${BP_SENTINEL_PORTS[0]}" SENTINEL FAILOVER mymaster | grep -q OK || bp_fail "SENTINEL FAILOVER refused"
failover_to_new "$old"
BP_WAIT_S=30 bp_wait_for conns_on_current || { tail -30 "$log"; bp_fail "not all 8 connections moved to $(bp_sentinel_master_port) after SENTINEL FAILOVER"; }
new=$(bp_sentinel_master_port)
enqueue 5
BP_WAIT_S=30 bp_wait_for completed_on 15 || { tail -30 "$log"; bp_fail "jobs after SENTINEL FAILOVER not completed"; }
echo "ok: SENTINEL FAILOVER $old -> $new: all connections moved, 5 more jobs completed"

# no crash loop: the same two workers, never exited with 78, nothing alarming
[ "$(pgrep -P "$master" | wc -l)" -eq 2 ] || bp_fail "worker count changed"
if grep -E '\[(alert|crit)\]|Sanitizer|exited with status 78' "$log"; then bp_fail "bad lines in the log"; fi
# the log names the sentinels and the master name, never the unused host of redis.url
grep -q "lost Redis at Sentinel master '$BP_MASTER_NAME' (sentinels 127.0.0.1:" "$log" ||
    { grep 'lost Redis' "$log"; bp_fail "the master's outage line does not name the sentinels"; }
if grep 'not-used.invalid' "$log"; then bp_fail "the unused redis.url host reached the log"; fi
kill -TERM "$master"
BP_WAIT_S=15 bp_wait_for bash -c "! kill -0 $master" || bp_fail "master did not stop"
echo "ok: sentinel test passed"
