#!/usr/bin/env bash
# tests/fuzz/run_docs.sh [SECONDS] -- build the document extractor fuzz targets
# (fuzz_doc_extract: every format family through bp_doc_extract_mem; fuzz_doc_decode: the
# worker's reader of the sandbox's output) with clang in their own build directory and run
# each for SECONDS (default 30). Seeds are real files made at run time by real tools
# (tests/support/docformats.py --fuzz-seeds: ReportLab, pandoc, openpyxl), so nothing binary
# is committed except the inputs that once crashed (tests/fuzz/regressions/<target>/, replayed
# first). Exits non-zero on a crash, leak, sanitizer report or timeout; the
# reproducer is left in the build directory. BP_FUZZ_TARGETS="fuzz_doc_decode" runs one.
set -euo pipefail
secs=${1:-30}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BP_FUZZ_BUILD_DIR:-$src/build/fuzz-docs}
targets=${BP_FUZZ_TARGETS:-fuzz_doc_extract fuzz_doc_decode}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBP_FUZZ=ON -DBP_WERROR=OFF >/dev/null
# shellcheck disable=SC2086 # a list of targets
cmake --build "$build" --target $targets doc_extract -j2 >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gen" "$work/fuzz_doc_extract" "$work/fuzz_doc_decode"
/usr/bin/python3 "$src/tests/support/docformats.py" --fuzz-seeds "$build/tests/doc_extract" \
    "$work/gen" "$work/fuzz_doc_extract" "$work/fuzz_doc_decode"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$src/tests/fuzz/lsan.supp:print_suppressions=0
cd "$build"
for t in $targets; do
    if [ -d "$src/tests/fuzz/regressions/$t" ]; then
        echo "== $t: replaying regressions/$t"
        "$build/tests/fuzz/$t" -runs=0 "$src/tests/fuzz/regressions/$t"/*
    fi
    echo "== $t: ${secs}s from $(ls "$work/$t" | wc -l) generated seeds"
    "$build/tests/fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1 "$work/$t"
done
