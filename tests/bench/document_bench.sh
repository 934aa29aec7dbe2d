#!/usr/bin/env bash
# tests/bench/document_bench.sh [DOCS] -- build document_bench.c (-O2, no sanitizers) and
# measure the document handler: documents/s for 100 KB text, Markdown and HTML documents,
# the peak RSS for 50 MB files, and the same extraction/chunking/SHA-256 of the text
# documents in Node (document_bench.js) for comparison when node is installed.
set -euo pipefail
docs=${1:-2000}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/bullpen-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
h=$src/worker/handlers

# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -o "$out/document_bench" "$src/tests/bench/document_bench.c" \
    "$h/bp_document.c" "$h/bp_docdata.c" "$h/bp_extract.c" "$h/bp_markdown.c" "$h/bp_html.c" "$h/bp_chunk.c" \
    "$h/bp_result.c" "$src/common/bp_log.c" "$src/common/bp_err.c" "$src/common/bp_confine.c" \
    -I"$h" -I"$src/worker" -I"$src/common" -I"$src/config" \
    $(pkg-config --cflags --libs libxml-2.0 hiredis jansson libcrypto) -lpthread

"$out/document_bench" throughput "$docs"

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
