# tests/support/redis.sh -- sourced by shell tests: a real redis-server over TLS on a free
# loopback port, certificates generated here, everything stopped by pid on exit.
#
#   . "$BP_SOURCE_DIR/tests/support/redis.sh"
#   bp_redis_start [extra redis-server args...]   # sets BP_TMP BP_TLS_PORT BP_PORT BP_CERTS
#   bp_rcli PING                                  # redis-cli over TLS
#   bp_write_conf FILE [queue-block]              # a bullpen.conf pointing at this server
#   bp_track_pid PID                              # stopped (TERM, then KILL) on exit
#   bp_fail "message"                             # print and exit 1
set -u
: "${BP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BULLPEN_BIN:=$BP_SOURCE_DIR/build/dev/master/bullpen}"
BP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-test.XXXXXX")
BP_CERTS=$BP_TMP/certs
BP_PIDS=()
BP_REDIS_PID=

bp_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

bp_track_pid() {
    BP_PIDS+=("$1")
}

bp_cleanup() {
    local pid
    for pid in "${BP_PIDS[@]}" $BP_REDIS_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BP_PIDS[@]}" $BP_REDIS_PID; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${BP_KEEP_TMP:-0}" = 1 ]; then echo "kept $BP_TMP" >&2; else rm -rf "$BP_TMP"; fi
}
trap bp_cleanup EXIT

# A free TCP port on 127.0.0.1 (bound once by the kernel, then released).
bp_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

bp_redis_start() {
    [ -f "$BP_CERTS/ca.crt" ] || bash "$BP_SOURCE_DIR/scripts/gen-test-certs.sh" "$BP_CERTS"
    BP_TLS_PORT=${BP_TLS_PORT:-$(bp_free_port)}
    BP_PORT=${BP_PORT:-$(bp_free_port)}
    mkdir -p "$BP_TMP/redis"
    redis-server --port "$BP_PORT" --tls-port "$BP_TLS_PORT" --bind 127.0.0.1 \
        --tls-cert-file "$BP_CERTS/server.crt" --tls-key-file "$BP_CERTS/server.key" \
        --tls-ca-cert-file "$BP_CERTS/ca.crt" --tls-auth-clients no \
        --save '' --appendonly no --dir "$BP_TMP/redis" --daemonize no \
        --logfile "$BP_TMP/redis/redis.log" "$@" &
    BP_REDIS_PID=$!
    for _ in $(seq 1 100); do
        if bp_rcli PING 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.05
    done
    cat "$BP_TMP/redis/redis.log" >&2
    bp_fail "redis-server did not start on 127.0.0.1:$BP_TLS_PORT"
}

bp_redis_stop() {
    [ -n "$BP_REDIS_PID" ] || return 0
    kill -TERM "$BP_REDIS_PID" 2>/dev/null || true
    wait "$BP_REDIS_PID" 2>/dev/null || true
    BP_REDIS_PID=
}

bp_rcli() {
    redis-cli --tls --cacert "$BP_CERTS/ca.crt" -h 127.0.0.1 -p "$BP_TLS_PORT" ${BP_REDIS_PASS:+-a "$BP_REDIS_PASS" --no-auth-warning} "$@"
}

# bp_write_conf FILE [QUEUE_BLOCK [POOL_EXTRA]]: a config for this server. The default queue
# is "test" with the diagnostics handlers.
bp_write_conf() {
    local file=$1
    local queues=${2:-'{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; }, { job = "sleep"; type = "sleep"; }, { job = "fail"; type = "fail"; } ); }'}
    local pool_extra=${3:-}
    cat > "$file" <<CONF
redis = {
  url = "rediss://localhost:$BP_TLS_PORT/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  connect_timeout_ms = 2000;
};
pool = { heartbeat_ms = 200; hung_after_ms = 3000; shutdown_timeout_ms = 5000; $pool_extra };
queues = ( $queues );
log = { level = "info"; };
CONF
}

# bp_wait_for CMD... : retry a command for up to ${BP_WAIT_S:-10} seconds.
bp_wait_for() {
    local deadline=$((SECONDS + ${BP_WAIT_S:-10}))
    while [ $SECONDS -lt $deadline ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}
