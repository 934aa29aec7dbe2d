#!/usr/bin/env bash
# Uploaded documents through a real queue: the daemon against a real redis-server over TLS,
# fed a multi-page PDF (Unicode, two columns, an outline, an image-only page), a DOCX from
# pandoc, an encrypted PDF, a zip bomb and bytes of no known kind, with chunk_format = json.
# Checks the result object (format, pages, title, author, pages without text), each stored
# chunk's page range and heading path against what the generator put in, and that each
# hostile file fails its own job with a reason naming the file, the format and the limit
# while the worker carries on. Files are made at run time (tests/support/docformats.py).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

docs=$BP_TMP/docs # the one directory path jobs may read (allowed_dirs)
mkdir -p "$docs"
/usr/bin/python3 "$BP_SOURCE_DIR/tests/support/docformats.py" --queue-files "$docs"
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" "{ name = \"docs\"; workers = 1; handlers = (
    { job = \"*\"; type = \"document\"; chunk_words = 12; overlap_words = 2; chunk_format = \"json\";
      allowed_dirs = [ \"$docs\" ]; }
  ); }"
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 1 worker on docs' "$log" || { cat "$log"; bp_fail "pool not ready"; }

finished() { [ -n "$(bp_rcli HGET "bull:docs:$1" finishedOn)" ]; }
run() {
    local id
    id=$("$BULLPEN_BIN" enqueue -c "$conf" -q docs index "$1")
    BP_WAIT_S=30 bp_wait_for finished "$id" || { tail -20 "$log"; bp_fail "job $id never finished"; }
    echo "$id"
}
field() { bp_rcli HGET "bull:docs:$1" "$2"; }
# jq-free JSON checks: python reads the value on stdin and asserts
pycheck() { /usr/bin/python3 -c "import json,sys; v=json.loads(sys.stdin.read()); $1" || bp_fail "$2"; }

# the PDF: result object and chunks with pages and heading paths
id=$(run "{\"path\": \"$docs/report.pdf\"}")
rv=$(field "$id" returnvalue)
printf '%s' "$rv" | pycheck 'assert v["format"]=="pdf" and v["pages"]==4 and v["page_unit"]=="page", v
assert v["title"]=="Quarterly Report Ünïcode" and v["author"]=="Zoë Ångström", v
assert v["pages_without_text"]==[3] and "no text layer (scanned" in v["warning"], v
assert v["chunk_format"]=="json" and v["headings"]==3 and v["cached"] is False, v' "pdf result: $rv"
sha=$(sha256sum "$docs/report.pdf" | cut -d' ' -f1)
bp_rcli --raw LRANGE "bull:docs:doc:$sha:json:chunks" 0 -1 > "$BP_TMP/pdf.chunks"
/usr/bin/python3 - "$BP_TMP/pdf.chunks" <<'PY' || bp_fail "pdf chunks: $(cat "$BP_TMP/pdf.chunks")"
import json, sys
chunks = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(chunks) >= 5, len(chunks)
first, last = chunks[0], chunks[-1]
assert first["offset"] == 0 and first["pages"][0] == 1 and first["headings"] == ["Chapter One"], first
assert "pageonemarker" in first["text"], first
assert last["pages"] == [4, 4] and last["headings"] == ["Columns", "Section 2.1"], last
assert last["text"].startswith("Section 2.1") and "pagefourmarker" in last["text"], last
cols = [c for c in chunks if "leftcol5" in c["text"]]
assert cols and all(c["pages"] == [2, 2] and c["headings"] == ["Columns"] for c in cols), cols
offs = [c["offset"] for c in chunks]
assert offs == sorted(offs), offs
PY
echo "ok: PDF -> result with pages, title, author, scanned page 3; chunks with pages and headings"

# the same PDF again: cached under the json key
id=$(run "{\"path\": \"$docs/report.pdf\"}")
field "$id" returnvalue | pycheck 'assert v["cached"] is True and v["pages"]==4, v' "pdf cache"
echo "ok: the same PDF again is a cache hit"

# the DOCX: headings into chunk paths
id=$(run "{\"path\": \"$docs/handbook.docx\"}")
field "$id" returnvalue | pycheck 'assert v["format"]=="docx" and v["title"]=="The Pandoc Handbook" and v["author"]=="Ada Lovelace", v' "docx result: $(field "$id" returnvalue)"
sha=$(sha256sum "$docs/handbook.docx" | cut -d' ' -f1)
bp_rcli --raw LRANGE "bull:docs:doc:$sha:json:chunks" 0 -1 > "$BP_TMP/docx.chunks"
/usr/bin/python3 - "$BP_TMP/docx.chunks" <<'PY' || bp_fail "docx chunks: $(cat "$BP_TMP/docx.chunks")"
import json, sys
chunks = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
det = [c for c in chunks if "detailword" in c["text"]]
assert det and det[0]["headings"] == ["Introduction", "Details"], det
clo = [c for c in chunks if "closingword" in c["text"]]
assert clo and clo[0]["headings"] == ["Closing"], clo
PY
echo "ok: DOCX -> title, author, chunks under their headings"

# hostile files: each fails its own job with a clear reason; the worker carries on
id=$(run "{\"path\": \"$docs/locked.pdf\"}")
reason=$(field "$id" failedReason)
# (parsed in the sandbox: a refusal of the input fails for good, and says so)
[ "$reason" = "PDF '$docs/locked.pdf' is encrypted with a password: cannot read its text; send it without the password; not retried: the same input would fail the same way" ] ||
    bp_fail "encrypted reason: $reason"
id=$(run "{\"path\": \"$docs/bomb.docx\"}")
reason=$(field "$id" failedReason)
case $reason in
    "DOCX '$docs/bomb.docx': zip entry 'word/document.xml' inflates "*"(handlers.max_zip_ratio): refused as a zip bomb; not retried"*) ;;
    *) bp_fail "zip bomb reason: $reason" ;;
esac
printf 'PK\003\004garbage' > "$docs/fake.docx"
id=$(run "{\"path\": \"$docs/fake.docx\"}")
reason=$(field "$id" failedReason)
case $reason in
    *"unsupported kind"*|*"not a readable zip"*) ;;
    *) bp_fail "fake zip reason: $reason" ;;
esac
id=$(run "{\"path\": \"$docs/report.pdf\", \"type\": \"docx\"}")
reason=$(field "$id" failedReason)
case $reason in
    "DOCX '$docs/report.pdf': not a readable zip container: "*) ;;
    *) bp_fail "forced type reason: $reason" ;;
esac
echo "ok: encrypted PDF, zip bomb, fake zip and a forced wrong type fail with their reasons"

# the worker that refused them still works
id=$(run '{"text": "still alive after hostile files"}')
field "$id" returnvalue | pycheck 'assert v["words"]==5, v' "worker after hostile files"
grep -q 'worker .* exited\|killed by' "$log" && bp_fail "a worker died: $(grep 'exited\|killed' "$log")"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert, crit or sanitizer lines in the log"
echo "ok: documents through a queue"
