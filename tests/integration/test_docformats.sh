#!/usr/bin/env bash
# Document formats with real files made at run time by real tools (ReportLab, qpdf,
# python-docx, pandoc, openpyxl, Python's codecs and zipfile): tests/support/docformats.py
# generates each file, extracts it with tests/support/doc_extract (bp_doc_extract plus the
# encode/decode round trip the sandbox uses) and checks the text, its reading order, every
# page and heading, title, author, encoding, the chunks' page ranges and heading paths, and
# the refusals of hostile files (zip bomb, billion laughs, entry count, nesting, encrypted
# and damaged PDFs). No Redis: the queue side is test_docqueue.sh.
set -euo pipefail
tool=$BP_BUILD_DIR/tests/doc_extract
[ -x "$tool" ] || { echo "doc_extract not built at $tool" >&2; exit 1; }
for t in pandoc qpdf; do
    command -v "$t" >/dev/null || { echo "$t missing: run scripts/deps" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3: ReportLab, python-docx and openpyxl are Debian packages (scripts/deps)
/usr/bin/python3 "$BP_SOURCE_DIR/tests/support/docformats.py" "$tool" "$work"
