#!/usr/bin/env bash
# tests/bench/document_bench.sh [DOCS] -- build document_bench.c (-O2, no sanitizers) and
# measure the document handler: documents/s for 100 KB text, Markdown and HTML documents,
# the peak RSS for 50 MB files, and the same extraction/chunking/SHA-256 of the text
# documents in Node (document_bench.js) for comparison when node is installed. Then the PDF
# and DOCX rows (document_formats.py): bullpen next to pdf-parse 1.x and 2.x and mammoth (Node, pinned
# in tests/bench/node/package-lock.json) and the pdftotext / mutool command-line floor, on
# the same generated files. BP_BENCH_FORMATS=0 skips those.
set -euo pipefail
docs=${1:-2000}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
h=$src/worker/handlers
x=$src/worker/extract
sb=$src/worker/sandbox

# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -o "$out/document_bench" "$src/tests/bench/document_bench.c" \
    "$h/bp_document.c" "$h/bp_docdata.c" "$h/bp_docresult.c" "$h/bp_chunk.c" "$x"/*.c \
    "$h/bp_result.c" "$src/common/bp_confine.c" "$sb"/*.c "$src/common/bp_log.c" "$src/common/bp_err.c" \
    "$src/common/bp_time.c" "$src/common/bp_dl.c" \
    -I"$h" -I"$x" -I"$sb" -I"$src/worker" -I"$src/common" -I"$src/config" \
    $(pkg-config --cflags poppler-glib) \
    $(pkg-config --cflags --libs libxml-2.0 hiredis jansson libcrypto libzip uchardet libseccomp) \
    -lpthread -ldl # poppler-glib: headers only, opened with dlopen() as bullpen does
# the library alone, for the PDF rows' floor of memory (poppler_floor.c)
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -o "$out/poppler_floor" "$src/tests/bench/poppler_floor.c" \
    $(pkg-config --cflags --libs poppler-glib)

"$out/document_bench" throughput "$docs"
echo "the same with sandbox.text_in_worker = true (UTF-8 text and Markdown in the worker):"
BP_BENCH_TEXT_IN_WORKER=1 "$out/document_bench" throughput "$docs" | tail -n +2

# 50 MB documents: the handler must not cost much more than the text itself
python3 - "$out" <<'PY'
import sys, random
random.seed(1)
words = "the queue worker processes documents quickly and stores chunks in redis über 中文".split()
def prose(n):
    out, size = [], 0
    while size < n:
        w = random.choice(words) + (". " if random.random() < 0.08 else " ")
        out.append(w); size += len(w.encode())
    return "".join(out)
body = prose(50 << 20)
open(sys.argv[1] + "/big.txt", "w").write(body)
open(sys.argv[1] + "/big.md", "w").write("\n\n".join("## " + p if i % 5 == 0 else p
    for i, p in enumerate(body.split(". "))))
open(sys.argv[1] + "/big.html", "w").write("<html><body>" + "".join("<p>%s.</p>\n" % p
    for p in body.split(". ")) + "</body></html>")
PY
for f in big.txt big.md big.html; do
    "$out/document_bench" rss "$out/$f"
done

if command -v node >/dev/null; then
    node "$src/tests/bench/document_bench.js" "$docs"
fi

if [ "${BP_BENCH_FORMATS:-1}" != 0 ]; then
    node_dir=$src/tests/bench/node
    if command -v npm >/dev/null && [ ! -d "$node_dir/node_modules" ]; then
        (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    corpus=${BP_BENCH_CORPUS:-$out/corpus}
    /usr/bin/python3 "$src/tests/bench/document_formats.py" "$corpus" "$out/document_bench" "$node_dir" \
        "$out/poppler_floor"
fi
