#!/usr/bin/env bash
# tests/integration/test_demo.sh -- scripts/demo end to end with 200 jobs on the binary
# under test (no deps, no build): exits 0, prints the summary with every job completed, no
# failure and some cache hits, then leaves no process and no temporary directory behind.
# Then the failure path: a pool that cannot start makes the demo exit 1 with the reason,
# and redis and the temporary directory are cleaned up all the same.
set -euo pipefail
: "${BP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BULLPEN_BIN:=$BP_SOURCE_DIR/build/dev/master/bullpen}"

work=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-test-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*" >&2
    echo "--- demo output:" >&2
    cat "$work/out" >&2 || true
    exit 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }

run_demo() { # run_demo BIN: the demo's output in $work/out, its status in $rc
    rc=0
    DEMO_JOBS=200 DEMO_SKIP_DEPS=1 BULLPEN_BIN=$1 TMPDIR=$work/tmp \
        timeout 300 bash "$BP_SOURCE_DIR/scripts/demo" >"$work/out" 2>&1 </dev/null || rc=$?
}
mkdir -p "$work/tmp"

# --- the happy path
run_demo "$BULLPEN_BIN"
[ $rc = 0 ] || fail "scripts/demo exited with $rc"
out=$work/out
grep -q 'pool ready: 4 workers on document-processing' "$out" || fail "no pool ready line"
grep -q '^summary (200 jobs, 4 workers' "$out" || fail "no summary for 200 jobs and 4 workers"
grep -Eq '^  failures +0$' "$out" || fail "failures are not 0"
for k in 'total time' throughput latency processing 'cache hits' 'worker RSS'; do
    grep -Eq "^  $k +(p50 )?[0-9]" "$out" || fail "summary lacks a figure for '$k'"
done
hits=$(sed -n 's/^  cache hits *\([0-9,]*\) of 200 .*/\1/p' "$out")
{ [ -n "$hits" ] && [ "$hits" -ge 20 ] && [ "$hits" -le 100 ]; } || fail "cache hits '$hits' of 200 not in 20..100"
grep -q '200/200 done' "$out" || fail "no final progress line"
grep -q $'\r' "$out" && fail "carriage returns in the output without a terminal"
grep -q 'nothing left running' "$out" || fail "no 'nothing left running' line"

# every pid the demo reported is gone, and so is its temporary directory
pids=$(sed -n -e 's/.*redis-server (pid \([0-9]*\)).*/\1/p' -e 's/.*master pid \([0-9]*\)).*/\1/p' \
    -e 's/^  worker pids *//p' "$out" | tr '\n' ' ')
[ "$(echo "$pids" | wc -w)" = 6 ] || fail "expected 6 pids (redis, master, 4 workers), got '$pids'"
for pid in $pids; do gone "$pid" || fail "pid $pid still running after the demo"; done
[ -z "$(ls -A "$work/tmp")" ] || fail "the demo left $(ls "$work/tmp") in its TMPDIR"
echo "ok: demo of 200 jobs, $hits cache hits, exit 0, pids $pids gone, temp dir removed"
grep -E '^  (total time|throughput|latency|cache hits|worker RSS)' "$out"

# --- the failure path: a "bullpen" that exits at once
run_demo /bin/false
[ $rc = 1 ] || fail "demo with a failing pool exited $rc, not 1"
grep -q 'FAILED: bullpen run exited with status 1 before the pool was ready' "$out" ||
    fail "no clear message for a pool that did not start"
pid=$(sed -n 's/.*redis-server (pid \([0-9]*\)).*/\1/p' "$out")
[ -n "$pid" ] || fail "no redis pid reported"
gone "$pid" || fail "redis-server $pid left running after a failed demo"
[ -z "$(ls -A "$work/tmp")" ] || fail "a failed demo left $(ls "$work/tmp") in its TMPDIR"
echo "ok: failing pool -> exit 1 with the reason, redis $pid stopped, temp dir removed"
echo PASS
