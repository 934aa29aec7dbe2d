#!/usr/bin/env bash
# test_check.sh -- `bullpen check`, the preflight: exit 0 against a good server; one
# "refused" line naming cause and fix, and exit 78 (configuration, TLS verification, AUTH,
# server policy) or 69 (unreachable) for each bad setting.
. "$BP_SOURCE_DIR/tests/support/redis.sh"
unset BULLPEN_REDIS_URL BULLPEN_REDIS_PASSWORD
bp_redis_start
CONF=$BP_TMP/bullpen.conf

# conf URL [TLS-GROUP-EXTRA [REDIS-EXTRA]]: a config for one worker pool of 2; the connect
# timeout is $CT ms (default 5000: generous, a slow CI must not turn a refusal into a timeout)
conf() {
    cat >"$CONF" <<CONF
redis = {
  url = "$1";
  tls = { ca_file = "$BP_CERTS/ca.crt"; ${2:-} };
  connect_timeout_ms = ${CT:-5000};
  ${3:-}
};
queues = ( { name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; } ); } );
CONF
}

# check CODE [PATTERN]: run bullpen check; expect exit CODE, and for a refusal exactly
# one "refused" line containing PATTERN
check() {
    local code=$1 pattern=${2:-} rc start elapsed
    start=$(date +%s%N)
    "$BULLPEN_BIN" check -c "$CONF" >"$BP_TMP/out" 2>"$BP_TMP/err"
    rc=$?
    elapsed=$((($(date +%s%N) - start) / 1000000))
    echo "exit $rc after $elapsed ms: $(grep -E '^(refused|check)' "$BP_TMP/out" | tr '\n' ' ')"
    [ "$rc" = "$code" ] || bp_fail "expected exit $code, got $rc: $(cat "$BP_TMP/out" "$BP_TMP/err")"
    [ "$elapsed" -lt 20000 ] || bp_fail "check took $elapsed ms"
    ! grep -q Sanitizer "$BP_TMP/err" || bp_fail "sanitizer: $(cat "$BP_TMP/err")"
    if [ "$code" = 0 ]; then
        grep -q '^check passed$' "$BP_TMP/out" || bp_fail "no 'check passed': $(cat "$BP_TMP/out")"
        ! grep -q '^refused' "$BP_TMP/out" || bp_fail "refused and passed: $(cat "$BP_TMP/out")"
    else
        grep -q '^check FAILED$' "$BP_TMP/out" || bp_fail "no 'check FAILED': $(cat "$BP_TMP/out")"
        [ "$(grep -c '^refused' "$BP_TMP/out")" = 1 ] ||
            bp_fail "not exactly one refusal: $(cat "$BP_TMP/out")"
        grep '^refused' "$BP_TMP/out" | grep -qF -- "$pattern" ||
            bp_fail "refusal without '$pattern': $(grep '^refused' "$BP_TMP/out")"
    fi
}

GOOD="rediss://localhost:$BP_TLS_PORT/0"

# the good setting: effective config printed, every preflight step reported
conf "$GOOD"
check 0
for want in '^redis = {' '^ok      TLS context: CA file .*verification on' \
    "^ok      connected: rediss://localhost:$BP_TLS_PORT — TLSv1\.[23], verified CN=localhost" \
    '^ok      server: redis [0-9.]*, role master, maxmemory-policy noeviction' \
    '^ok      scripts: [0-9]* loaded' '^ok      latency: 20 PINGs, min [0-9]* us, p50' \
    '^ok      connections: the pool needs 8 (2 workers x 3 + 2) of maxclients 10000'; do
    grep -q -- "$want" "$BP_TMP/out" || bp_fail "missing '$want' in: $(cat "$BP_TMP/out")"
done

# TLS verification: wrong CA, wrong server name
conf "$GOOD" "ca_file = \"$BP_CERTS/other-ca.crt\";"
sed -i "s|ca_file = \"$BP_CERTS/ca.crt\"; ||" "$CONF"
check 78 "certificate verify failed"
conf "$GOOD" 'server_name = "redis.example.com";'
check 78 "hostname mismatch; check redis.tls.server_name"

# reachability: plain TCP to the TLS port, TLS to the plain port, nobody listening
conf "redis://localhost:$BP_TLS_PORT/0"
check 69 "is it a TLS port? use rediss://"
CT=1000 conf "rediss://localhost:$BP_PORT/0"
check 69 "timed out after 1000 ms"
conf "rediss://localhost:$(bp_free_port)/0"
check 69 "Connection refused"

# AUTH: wrong password refused (78), the right one accepted
bp_rcli CONFIG SET requirepass s3cret >/dev/null
export BP_REDIS_PASS=s3cret
printf 'wrong\n' >"$BP_TMP/bad.pass"
printf 's3cret\n' >"$BP_TMP/good.pass"
conf "$GOOD" "" "password_file = \"$BP_TMP/bad.pass\";"
check 78 "check redis.password / redis.password_file"
conf "$GOOD"
check 78 "requires a password"
conf "$GOOD" "" "password_file = \"$BP_TMP/good.pass\";"
check 0
grep -q '^ok      AUTH accepted' "$BP_TMP/out" || bp_fail "AUTH not reported"
! grep -q s3cret "$BP_TMP/out" || bp_fail "the password was printed"

# server policy: an evicting server and a replica are refused (78)
bp_rcli CONFIG SET maxmemory-policy allkeys-lru >/dev/null
check 78 "maxmemory-policy is 'allkeys-lru'"
bp_rcli CONFIG SET maxmemory-policy noeviction >/dev/null
bp_rcli REPLICAOF 127.0.0.1 "$(bp_free_port)" >/dev/null
check 78 "role is 'slave', not master"
bp_rcli REPLICAOF NO ONE >/dev/null
# the connection budget: 2 workers x 3 + 2 = 8 > maxclients 5
bp_rcli CONFIG SET maxclients 5 >/dev/null
check 78 "the pool needs 8 (2 workers x 3 + 2) but maxclients is 5"
bp_rcli CONFIG SET maxclients 10000 >/dev/null
# a managed-Redis-like user without CONFIG: still passes, maxclients from INFO
bp_rcli ACL SETUSER limited on '>lpass' '~*' '&*' '+@all' '-config' >/dev/null
printf 'lpass\n' >"$BP_TMP/limited.pass"
conf "rediss://limited@localhost:$BP_TLS_PORT/0" "" "password_file = \"$BP_TMP/limited.pass\";"
check 0
grep -q '^ok      AUTH as limited accepted' "$BP_TMP/out" || bp_fail "user not reported"
echo "PASS test_check"
