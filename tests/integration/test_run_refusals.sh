#!/usr/bin/env bash
# `bullpen run` refuses what it cannot fix by retrying, at once and with exit 78: a broken
# configuration (FILE:LINE), a TLS verification failure (wrong CA), a wrong password; and
# with -d the starter carries the refusal to the terminal. An unreachable Redis is not a
# refusal: the pool waits for it without a crash loop.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
BP_REDIS_PASS=s3cret
bp_redis_start --requirepass s3cret

conf=$BP_TMP/bullpen.conf
expect_78() { # label, extra run args...
    local label=$1 rc=0
    shift
    timeout 30 "$BULLPEN_BIN" run -c "$conf" "$@" >"$BP_TMP/out" 2>&1 || rc=$?
    [ "$rc" -eq 78 ] || { cat "$BP_TMP/out"; bp_fail "$label: exit $rc, expected 78"; }
    echo "ok: $label -> 78: $(grep -m1 -E 'error|crit|bullpen:' "$BP_TMP/out" | cut -c1-160)"
}

# a configuration error names file and line
bp_write_conf "$conf"
sed -i 's/heartbeat_ms = 200;/heartbeat_ms = "x";/' "$conf"
expect_78 "bad config"
grep -q "$conf:[0-9]*: pool.heartbeat_ms" "$BP_TMP/out" || bp_fail "no FILE:LINE: key in the refusal"

# wrong CA: verification fails, no retry loop
bp_write_conf "$conf"
sed -i "s|certs/ca.crt|certs/other-ca.crt|" "$conf"
expect_78 "wrong CA"
grep -q "redis.tls.ca_file" "$BP_TMP/out" || bp_fail "the refusal does not point at redis.tls.ca_file"

# wrong password
bp_write_conf "$conf"
sed -i 's|rediss://localhost|rediss://:wrong@localhost|' "$conf"
expect_78 "wrong password"

# -d: the starter waits and reports the daemon's refusal
expect_78 "wrong password with -d" -d
grep -q "bullpen:" "$BP_TMP/out" || bp_fail "-d starter did not print the reason"

# Redis unreachable: no refusal, no crash loop; workers start when it answers
bp_write_conf "$conf"
sed -i 's|rediss://localhost|rediss://:s3cret@localhost|' "$conf"
port=$(bp_free_port)
sed -i "s|localhost:$BP_TLS_PORT|localhost:$port|" "$conf"
"$BULLPEN_BIN" run -c "$conf" >"$BP_TMP/log" 2>&1 &
master=$!
bp_track_pid "$master"
sleep 3
kill -0 "$master" || { cat "$BP_TMP/log"; bp_fail "the master gave up on an unreachable Redis"; }
forks=$(grep -c 'connected to' "$BP_TMP/log" || true)
[ "$forks" -eq 0 ] || bp_fail "workers connected to a Redis that is not there?"
spawned=$(grep -c 'exited with status 75' "$BP_TMP/log" || true)
[ "$spawned" -le 3 ] || bp_fail "crash loop: $spawned worker start failures in 3 s"
kill -TERM "$master"
wait "$master" || true
echo "ok: unreachable Redis: master waits, $spawned worker start failures in 3 s"
echo PASS
