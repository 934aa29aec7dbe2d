#!/usr/bin/env bash
# conn_ping.sh -- PING round trips per second through bp_conn (tests/support/bp_conn_probe)
# against redis-benchmark -c 1 on the same server, over TLS and plain TCP. Not a ctest test:
# figures depend on the machine. Run it on a build without sanitizers, e.g.
#   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBP_WERROR=OFF
#   cmake --build build/release --target bp_conn_probe
#   BP_BUILD_DIR=build/release bash tests/bench/conn_ping.sh
# Runs alternate (ours, theirs, ours, ...) so a noisy neighbour hits both alike; the table
# shows the median and the best of BP_BENCH_ROUNDS rounds of BP_BENCH_N round trips each
# (on a shared machine the best is the steadier figure). Goal: ratio >= 0.9 (bp_conn is not
# slower than redis-benchmark's event loop).
: "${BP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BP_BUILD_DIR:=$BP_SOURCE_DIR/build/release}"
BP_BUILD_DIR=$(cd "$BP_BUILD_DIR" && pwd)
. "$BP_SOURCE_DIR/tests/support/redis.sh"
N=${BP_BENCH_N:-100000}
ROUNDS=${BP_BENCH_ROUNDS:-5}
PROBE=$BP_BUILD_DIR/tests/bp_conn_probe
[ -x "$PROBE" ] || bp_fail "no probe at $PROBE (build target bp_conn_probe)"
command -v redis-benchmark >/dev/null || bp_fail "redis-benchmark not installed"
if nm "$PROBE" 2>/dev/null | grep -q __asan_init; then
    echo "warning: $PROBE is built with ASan; its figures will be low" >&2
fi

bp_redis_start

ours() { # transport
    local args=(--port "$BP_PORT")
    [ "$1" = tls ] && args=(--tls --host localhost --port "$BP_TLS_PORT" --ca "$BP_CERTS/ca.crt")
    "$PROBE" "${args[@]}" ping "$N" | sed -n 's/.*: \([0-9]*\) per second$/\1/p'
}

theirs() { # transport
    local args=(-p "$BP_PORT")
    [ "$1" = tls ] && args=(-p "$BP_TLS_PORT" --tls --cacert "$BP_CERTS/ca.crt")
    redis-benchmark -h 127.0.0.1 "${args[@]}" -c 1 -n "$N" -q PING 2>/dev/null | tr '\r' '\n' |
        sed -n 's/^PING: \([0-9]*\)\.[0-9]* requests per second.*/\1/p' | tail -1
}

median() {
    sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

declare -A result
for transport in tls tcp; do
    : >"$BP_TMP/ours" && : >"$BP_TMP/theirs"
    for round in $(seq 1 "$ROUNDS"); do
        o=$(ours $transport)
        t=$(theirs $transport)
        [ -n "$o" ] && [ -n "$t" ] || bp_fail "a $transport run printed no figure"
        echo "$o" >>"$BP_TMP/ours"
        echo "$t" >>"$BP_TMP/theirs"
        echo "  $transport round $round: bp_conn $o/s, redis-benchmark $t/s" >&2
    done
    result[$transport.ours]=$(median <"$BP_TMP/ours")
    result[$transport.theirs]=$(median <"$BP_TMP/theirs")
    result[$transport.ours_best]=$(sort -n "$BP_TMP/ours" | tail -1)
    result[$transport.theirs_best]=$(sort -n "$BP_TMP/theirs" | tail -1)
done

ratio() {
    awk -v o="$1" -v t="$2" 'BEGIN {printf "%.2f", o / t}'
}
printf '\nPING round trips per second, one connection, %d per run, %d runs each\n' "$N" "$ROUNDS"
printf '%-10s %-7s %10s %16s %8s\n' transport figure bp_conn redis-benchmark ratio
for transport in tls tcp; do
    for fig in median best; do
        k=$transport.ours k2=$transport.theirs
        [ $fig = best ] && k=${k}_best k2=${k2}_best
        printf '%-10s %-7s %10d %16d %8s\n' "$transport" "$fig" "${result[$k]}" "${result[$k2]}" \
            "$(ratio "${result[$k]}" "${result[$k2]}")"
    done
done
