#!/usr/bin/env bash
# Every format test of test_docformats.sh again, with each file parsed in the sandbox as the
# document handler parses it: a confined child (seccomp, Landlock, rlimits) of an extractor
# process, the result coming back through bp_doc_encode/bp_doc_decode. A parser that needs
# a file, a socket or a system call the sandbox refuses fails here with the call's name
# (doc_extract with BP_DOC_EXTRACT_SANDBOX=1; tests/support/docformats.py checks the text,
# pages, headings, encodings and the refusals of hostile files exactly as without it).
set -euo pipefail
tool=$BP_BUILD_DIR/tests/doc_extract
[ -x "$tool" ] || { echo "doc_extract not built at $tool" >&2; exit 1; }
for t in pandoc qpdf; do
    command -v "$t" >/dev/null || { echo "$t missing: run scripts/deps" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BP_DOC_EXTRACT_SANDBOX=1 /usr/bin/python3 "$BP_SOURCE_DIR/tests/support/docformats.py" "$tool" "$work"
