# tests/interop/setup.sh -- sourced by the interop tests: the real peer (Node 20 + bull@4
# from package-lock.json) and a TLS redis-server from tests/support/redis.sh.
#
#   . "$(dirname "$0")/setup.sh"
#   bp_interop_start QUEUE       # redis up, $BP_CONF written for QUEUE, node_modules present
#   bp_node script.js            # runs a test script with BP_* in its environment
#
# BP_PROBE is the protocol probe (tests/support/bp_queue_probe.c), BP_BULLPEN the daemon.
set -u
BP_INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BP_SOURCE_DIR:=$(cd "$BP_INTEROP_DIR/../.." && pwd)}"
. "$BP_SOURCE_DIR/tests/support/redis.sh"
: "${BP_BUILD_DIR:=$BP_SOURCE_DIR/build/dev}"
: "${BP_PROBE:=$BP_BUILD_DIR/tests/bp_queue_probe}"

bp_interop_deps() {
    command -v node >/dev/null || bp_fail "node is not installed (Node 20 is needed for tests/interop)"
    # one npm ci at a time: ctest -j runs several interop tests at once
    (
        flock 9
        # npm ci again when the lock file is newer than what npm last installed from it
        # (a checkout that added a package keeps an old node_modules otherwise)
        if [ ! -d "$BP_INTEROP_DIR/node_modules/bull" ] ||
            [ "$BP_INTEROP_DIR/package-lock.json" -nt "$BP_INTEROP_DIR/node_modules/.package-lock.json" ]; then
            (cd "$BP_INTEROP_DIR" && npm ci --silent --no-audit --no-fund)
        fi
    ) 9>"${TMPDIR:-/tmp}/bullpen-interop-npm.lock" ||
        bp_fail "npm ci in $BP_INTEROP_DIR failed (is the npm registry reachable?)"
    [ -x "$BP_PROBE" ] || bp_fail "probe not built: $BP_PROBE"
}

# bp_interop_start QUEUE [POOL_EXTRA]
bp_interop_start() {
    local queue=$1
    bp_interop_deps
    bp_redis_start
    BP_CONF=$BP_TMP/bullpen.conf
    bp_write_conf "$BP_CONF" "{ name = \"$queue\"; workers = ${BP_POOL_WORKERS:-2}; handlers = ( { job = \"*\"; type = \"echo\"; }, { job = \"fail\"; type = \"fail\"; } ); }" "${2:-}"
    export BP_CONF BP_PROBE BP_TLS_PORT BP_CERTS BP_QUEUE=$queue
}

# bp_pool_start: `bullpen run` on $BP_CONF in the background (log in $BP_POOL_LOG), ready
# when the master says "pool ready"
bp_pool_start() {
    BP_POOL_LOG=$BP_TMP/pool.log
    "$BULLPEN_BIN" run -c "$BP_CONF" >"$BP_POOL_LOG" 2>&1 &
    BP_POOL_PID=$!
    bp_track_pid "$BP_POOL_PID"
    BP_WAIT_S=30 bp_wait_for grep -q "pool ready" "$BP_POOL_LOG" ||
        { cat "$BP_POOL_LOG" >&2; bp_fail "bullpen run did not become ready"; }
}

# bp_pool_check_log: no alert/crit lines and no sanitizer reports
bp_pool_check_log() {
    if grep -E '\[(alert|crit)\]|Sanitizer' "$BP_POOL_LOG"; then
        bp_fail "the pool log has alert/crit/sanitizer lines"
    fi
}

bp_node() {
    (cd "$BP_INTEROP_DIR" && timeout ${BP_NODE_TIMEOUT:-300} node "$@")
}
