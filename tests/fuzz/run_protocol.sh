#!/usr/bin/env bash
# tests/fuzz/run_protocol.sh [SECONDS] -- build the protocol fuzz targets (protocol.cmake:
# fuzz_config, fuzz_url, fuzz_resp, fuzz_conn, fuzz_job, fuzz_ctl_msg, fuzz_cron) with clang in their own build
# directory and run each for SECONDS (default 30) from its seeds in tests/fuzz/seeds/<target>/
# (new inputs go to a temporary directory, not into the tree). First every file of
# tests/fuzz/regressions/<target>/ (inputs that once crashed) is replayed. Exits non-zero on
# a crash, leak, sanitizer report or timeout; the reproducer is left in the build directory.
# BP_FUZZ_TARGETS="fuzz_url fuzz_job" runs only those.
set -euo pipefail
secs=${1:-30}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BP_FUZZ_BUILD_DIR:-$src/build/fuzz-protocol}
targets=${BP_FUZZ_TARGETS:-fuzz_config fuzz_url fuzz_resp fuzz_conn fuzz_job fuzz_ctl_msg fuzz_cron}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBP_FUZZ=ON -DBP_WERROR=OFF -DCMAKE_PROJECT_INCLUDE="$src/tests/fuzz/protocol.cmake" >/dev/null
# shellcheck disable=SC2086 # a list of targets
cmake --build "$build" --target $targets -j2 >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$src/tests/fuzz/lsan.supp:print_suppressions=0
cd "$build"
for t in $targets; do
    bin=$build/tests/fuzz/$t
    if [ -d "$src/tests/fuzz/regressions/$t" ] && [ -n "$(ls -A "$src/tests/fuzz/regressions/$t")" ]; then
        echo "== $t: replaying regressions/$t"
        "$bin" -runs=0 "$src/tests/fuzz/regressions/$t"/* >"$work/$t.replay" 2>&1 ||
            { cat "$work/$t.replay"; echo "$t: a regression input crashes again"; exit 1; }
    fi
    mkdir -p "$work/$t"
    cp "$src/tests/fuzz/seeds/$t"/* "$work/$t"/
    echo "== $t: $secs s"
    rc=0
    # fuzz_config: full stacks on malloc, so the suppressions see libconfig's frames (built
    # without frame pointers, the fast unwinder stops before them)
    [ "$t" != fuzz_config ] || export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
    "$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work/$t" >"$work/$t.log" 2>&1 || rc=$?
    grep -E '^stat::(number_of_executed_units|new_units_added)|#[0-9]+ *DONE' "$work/$t.log" || true
    if [ "$rc" != 0 ]; then
        grep -A30 -E 'ERROR|runtime error|Sanitizer' "$work/$t.log" | head -60
        echo "$t: FAILED (reproducer in $build: crash-*, leak-*, timeout-*)"
        exit 1
    fi
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
done
