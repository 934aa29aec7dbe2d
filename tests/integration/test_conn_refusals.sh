#!/usr/bin/env bash
# test_conn_refusals.sh -- every way bp_conn_open refuses a bad setup: one clear line on
# stderr that names the cause and the fix, the right exit code (78 fix the configuration,
# 69 unreachable), and never a hang (each attempt is bounded by the connect timeout).
. "$BP_SOURCE_DIR/tests/support/redis.sh"
PROBE=${BP_BUILD_DIR:-$BP_SOURCE_DIR/build/dev}/tests/bp_conn_probe
[ -x "$PROBE" ] || bp_fail "no probe at $PROBE (build the tests first)"

export BP_REDIS_PASS=s3cret # bp_rcli authenticates (bp_redis_start polls with it)
bp_redis_start --requirepass s3cret
# generous: under a loaded CI a slow handshake must not turn a refusal into a timeout
TLS=(--tls --host localhost --port "$BP_TLS_PORT" --connect-timeout 5000)

# refuse CODE PATTERN PROBE-ARGS...: the probe must exit CODE within 15 s, printing one
# line that contains PATTERN
refuse() {
    local code=$1 pattern=$2 rc start elapsed
    shift 2
    start=$(date +%s%N)
    "$PROBE" "$@" describe >"$BP_TMP/out" 2>"$BP_TMP/err"
    rc=$?
    elapsed=$((($(date +%s%N) - start) / 1000000))
    echo "exit $rc after $elapsed ms: $(cat "$BP_TMP/err")"
    [ "$rc" = "$code" ] || bp_fail "expected exit $code, got $rc: $(cat "$BP_TMP/err")"
    [ "$(wc -l <"$BP_TMP/err")" = 1 ] || bp_fail "not one line: $(cat "$BP_TMP/err")"
    grep -qF -- "$pattern" "$BP_TMP/err" || bp_fail "missing '$pattern' in: $(cat "$BP_TMP/err")"
    [ "$elapsed" -lt 15000 ] || bp_fail "took $elapsed ms (connect timeout is at most 5000 ms)"
}

# the good setting works, so the refusals below are caused by the one thing changed
"$PROBE" "${TLS[@]}" --ca "$BP_CERTS/ca.crt" --pass s3cret describe >/dev/null ||
    bp_fail "the good setting does not connect"

# wrong CA: the certificate does not chain to other-ca
refuse 78 "certificate verify failed" "${TLS[@]}" --ca "$BP_CERTS/other-ca.crt" --pass s3cret
grep -qF "check redis.tls.ca_file" "$BP_TMP/err" || bp_fail "no fix named: $(cat "$BP_TMP/err")"
# a CA file that does not exist names the file and the key
refuse 78 "cannot load CA file '$BP_TMP/nope.crt' (redis.tls.ca_file)" "${TLS[@]}" \
    --ca "$BP_TMP/nope.crt" --pass s3cret
# wrong server name: the certificate is for localhost, 127.0.0.1 and ::1
refuse 78 "hostname mismatch; check redis.tls.server_name" "${TLS[@]}" \
    --ca "$BP_CERTS/ca.crt" --server-name redis.example.com --pass s3cret
# wrong password, and none at all
refuse 78 "WRONGPASS" "${TLS[@]}" --ca "$BP_CERTS/ca.crt" --pass wrong
grep -qF "check redis.password / redis.password_file" "$BP_TMP/err" ||
    bp_fail "no fix named: $(cat "$BP_TMP/err")"
refuse 78 "requires a password" "${TLS[@]}" --ca "$BP_CERTS/ca.crt"
# mutual TLS half configured
refuse 78 "redis.tls.cert_file is set but redis.tls.key_file is not" "${TLS[@]}" \
    --ca "$BP_CERTS/ca.crt" --pass s3cret --cert "$BP_CERTS/client.crt"
# a key that does not belong to the certificate
refuse 78 "(redis.tls.key_file); it must be the unencrypted PEM key" "${TLS[@]}" --ca "$BP_CERTS/ca.crt" --pass s3cret \
    --cert "$BP_CERTS/client.crt" --key "$BP_CERTS/server.key"
# a server that only speaks TLSv1.2 and redis.tls.min_version TLSv1.3
bp_rcli CONFIG SET tls-protocols TLSv1.2 >/dev/null || bp_fail "cannot limit tls-protocols"
out=$("$PROBE" "${TLS[@]}" --ca "$BP_CERTS/ca.crt" --pass s3cret describe) ||
    bp_fail "TLSv1.2 server: $out"
case $out in *" — TLSv1.2, verified CN=localhost") ;; *) bp_fail "TLSv1.2: $out" ;; esac
refuse 78 "check redis.tls.min_version" "${TLS[@]}" --ca "$BP_CERTS/ca.crt" --pass s3cret \
    --min-tls 1.3
bp_rcli CONFIG SET tls-protocols "TLSv1.2 TLSv1.3" >/dev/null
# plain TCP to the TLS port: the server hangs up on our plain RESP
refuse 69 "is it a TLS port? use rediss://" --host 127.0.0.1 --port "$BP_TLS_PORT" \
    --connect-timeout 5000 --pass s3cret
# TLS to the plain port: the server waits for more of our "command"; bounded by the timeout
refuse 69 "TLS handshake with 'rediss://localhost:$BP_PORT' timed out after 1000 ms" \
    --tls --host localhost --port "$BP_PORT" --connect-timeout 1000 --ca "$BP_CERTS/ca.crt" \
    --pass s3cret
# connection refused: a port nobody listens on
dead_port=$(bp_free_port)
refuse 69 "Connection refused" "${TLS[@]/$BP_TLS_PORT/$dead_port}" --ca "$BP_CERTS/ca.crt"
# a black hole: a listener whose accept queue is full drops our SYN; the connect timeout ends it
cat >"$BP_TMP/blackhole.py" <<'PY'
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = []
for _ in range(4):  # fill the accept queue; later SYNs are dropped
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.3)
print(s.getsockname()[1], flush=True)
time.sleep(120)
PY
python3 "$BP_TMP/blackhole.py" >"$BP_TMP/blackhole.port" &
bp_track_pid $!
bp_wait_for test -s "$BP_TMP/blackhole.port" || bp_fail "black hole did not start"
refuse 69 "timed out after 1000 ms (redis.connect_timeout_ms)" --host 127.0.0.1 \
    --port "$(cat "$BP_TMP/blackhole.port")" --connect-timeout 1000
echo "PASS test_conn_refusals"
