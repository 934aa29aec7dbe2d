#!/usr/bin/env bash
# test_conn_basic.sh -- bp_conn against a real redis-server over TLS (and plain TCP, a unix
# socket, IPv6 when the host has ::1): connect and describe, AUTH, SELECT and CLIENT
# SETNAME, 100,000 pipelined commands, a 10 MB value, a blocking command with its
# deadline, a command timeout, a wake-up fd interrupting BLPOP, SCRIPT LOAD / EVALSHA /
# EVAL fallback, bp_conn_abandon() after fork, and mutual TLS with and without a client
# certificate. Driven through tests/support/bp_conn_probe.
. "$BP_SOURCE_DIR/tests/support/redis.sh"
PROBE=${BP_BUILD_DIR:-$BP_SOURCE_DIR/build/dev}/tests/bp_conn_probe
[ -x "$PROBE" ] || bp_fail "no probe at $PROBE (build the tests first)"

bp_redis_start --unixsocket "$BP_TMP/redis/redis.sock" --unixsocketperm 700
TLS=(--tls --host localhost --port "$BP_TLS_PORT" --ca "$BP_CERTS/ca.crt")

# run the probe; on failure show its output and stop
ok() {
    local out
    out=$("$PROBE" "$@" 2>&1) || bp_fail "probe $* exited $?: $out"
    printf '%s\n' "$out"
}

out=$(ok "${TLS[@]}" describe)
[ "$out" = "rediss://localhost:$BP_TLS_PORT — TLSv1.3, verified CN=localhost" ] ||
    bp_fail "describe over TLS: '$out'"
out=$(ok --tls --host 127.0.0.1 --port "$BP_TLS_PORT" --ca "$BP_CERTS/ca.crt" describe)
case $out in *"verified CN=localhost"*) ;; *) bp_fail "IP-literal verification: '$out'" ;; esac
out=$(ok --tls --port "$BP_TLS_PORT" --no-verify describe)
case $out in *", unverified") ;; *) bp_fail "describe without verification: '$out'" ;; esac
out=$(ok --port "$BP_PORT" describe)
[ "$out" = "redis://127.0.0.1:$BP_PORT" ] || bp_fail "describe over TCP: '$out'"
out=$(ok --unix "$BP_TMP/redis/redis.sock" cmd PING)
[ "$out" = "PONG" ] || bp_fail "unix socket PING: '$out'"
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
    bp_rcli CONFIG SET bind "127.0.0.1 ::1" >/dev/null || bp_fail "cannot bind redis to ::1"
    out=$(ok --tls --host ::1 --port "$BP_TLS_PORT" --ca "$BP_CERTS/ca.crt" describe)
    case $out in "rediss://[::1]:$BP_TLS_PORT — TLSv1."*", verified CN=localhost") ;;
    *) bp_fail "IPv6: '$out'" ;; esac
fi

# CLIENT SETNAME and SELECT are applied
out=$(ok "${TLS[@]}" --name bp-test-conn --db 3 cmd CLIENT INFO)
case $out in *"name=bp-test-conn "*"db=3 "*) ;; *) bp_fail "name/db not applied: $out" ;; esac

# error replies are errors (exit 70, the text shown), the connection layer stays sane
out=$("$PROBE" "${TLS[@]}" cmd NOSUCHCOMMAND 2>&1) && bp_fail "an error reply succeeded"
case $out in *"ERR unknown command"*) ;; *) bp_fail "error reply text: $out" ;; esac

# pipelining: 100,000 INCRs, replies in order, over TLS and TCP
out=$(ok "${TLS[@]}" pipeline 100000)
echo "TLS: $out"
out=$(ok --port "$BP_PORT" pipeline 100000)
echo "TCP: $out"

# a 10 MB binary value round trip
ok "${TLS[@]}" bigvalue 10485760 >/dev/null
ok --port "$BP_PORT" bigvalue 10485760 >/dev/null

# blocking command with a deadline: BLPOP 1 returns nil after about a second
out=$(ok "${TLS[@]}" block bp:empty 1)
case $out in "block returned after "*" ms: (nil)") ;; *) bp_fail "block: $out" ;; esac
ms=${out#block returned after }; ms=${ms%% ms*}
[ "$ms" -ge 900 ] && [ "$ms" -lt 6000 ] || bp_fail "BLPOP 1 took $ms ms"

# a command that outlives command_timeout_ms fails with a timeout (69), well bounded
start=$(date +%s%N)
out=$("$PROBE" "${TLS[@]}" --command-timeout 500 cmd BLPOP bp:empty 20 2>&1)
rc=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
[ $rc = 69 ] || bp_fail "command timeout: exit $rc: $out"
case $out in *"timed out after 500 ms"*) ;; *) bp_fail "command timeout: $out" ;; esac
[ $elapsed -lt 10000 ] || bp_fail "command timeout took $elapsed ms"

# a wake-up fd interrupts a BLPOP 0 (which would block forever)
out=$(ok "${TLS[@]}" wake bp:empty 300)
case $out in "woken after "*" ms (ok=0)") ;; *) bp_fail "wake: $out" ;; esac

# pub/sub: an idle wait for a message times out without breaking the subscriber, then a
# PUBLISH from another connection arrives
out=$(ok "${TLS[@]}" subscribe bp:chan)
case $out in "idle wait: "*"timed out after 200 ms (ok=1)"$'\n'"message: hello") ;;
*) bp_fail "subscribe: $out" ;; esac

# scripts: SCRIPT LOAD all, then EVALSHA after SCRIPT FLUSH falls back to EVAL
out=$(ok "${TLS[@]}" scripts)
[ "$(printf '%s\n' "$out" | grep -c '^echo_args [0-9a-f]\{40\}: (array 3)')" = 2 ] ||
    bp_fail "scripts: $out"

# after fork, a child that abandons the inherited TLS connection sends nothing: the
# parent's session survives; the control: a child that closes it (close_notify) kills it
out=$(ok "${TLS[@]}" fork abandon)
[ "$out" = "parent PING after the child's abandon: PONG" ] || bp_fail "fork abandon: $out"
out=$("$PROBE" "${TLS[@]}" fork close 2>&1) && bp_fail "close after fork left the parent alive?"
case $out in *"closed by the server"*) ;; *) bp_fail "fork close control: $out" ;; esac

# AUTH: a password, then an ACL user
bp_rcli CONFIG SET requirepass s3cret >/dev/null
export BP_REDIS_PASS=s3cret
out=$(ok "${TLS[@]}" --pass s3cret cmd PING)
[ "$out" = PONG ] || bp_fail "AUTH password: $out"
bp_rcli ACL SETUSER bpuser on '>bppass' '~*' '&*' '+@all' >/dev/null || bp_fail "ACL SETUSER"
out=$(ok "${TLS[@]}" --user bpuser --pass bppass cmd ACL WHOAMI)
[ "$out" = '"bpuser"' ] || bp_fail "AUTH user: $out"

# mutual TLS: with a client certificate it works, without it is refused (78, one line)
bp_rcli CONFIG SET tls-auth-clients yes >/dev/null
MTLS=("${TLS[@]}" --pass s3cret --cert "$BP_CERTS/client.crt" --key "$BP_CERTS/client.key")
out=$(ok "${MTLS[@]}" describe)
case $out in *"verified CN=localhost") ;; *) bp_fail "mTLS: $out" ;; esac
"$PROBE" "${TLS[@]}" --pass s3cret describe >"$BP_TMP/out" 2>"$BP_TMP/err"
rc=$?
[ $rc = 78 ] || bp_fail "mTLS without a certificate: exit $rc: $(cat "$BP_TMP/err")"
[ "$(wc -l <"$BP_TMP/err")" = 1 ] || bp_fail "not one line: $(cat "$BP_TMP/err")"
grep -q "client certificate: check redis.tls.cert_file" "$BP_TMP/err" ||
    bp_fail "mTLS refusal: $(cat "$BP_TMP/err")"
ok "${MTLS[@]}" cmd CONFIG SET tls-auth-clients no >/dev/null
echo "PASS test_conn_basic"
