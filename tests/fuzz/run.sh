#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] -- build the libFuzzer targets with clang in their own build
# directory and fuzz extraction + chunking for SECONDS (default 30), starting from the seeds
# in tests/fuzz/corpus/ (new inputs go to a temporary directory, not into the tree).
# Exits non-zero when the fuzzer finds a crash, a leak, a sanitizer report or a timeout; the
# reproducer is left in the build directory (crash-*, leak-*, timeout-*).
set -euo pipefail
secs=${1:-30}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BP_FUZZ_BUILD_DIR:-$src/build/fuzz}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBP_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz_document -j2 >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$src"/tests/fuzz/corpus/* "$work"/
cd "$build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/fuzz_document" -max_total_time="$secs" -max_len=65536 -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -dict="$src/tests/fuzz/document.dict" "$work"
