#!/usr/bin/env bash
# poppler-glib is opened with dlopen() where a PDF is parsed (worker/extract/bp_poppler.h).
# Against a real redis-server over TLS:
#   1. a pool that parses a DOCX and a PDF in the sandbox: the master, the worker and its
#      extractor for other formats never map libpoppler (nor glib, cairo), its PDF extractor
#      does, started at the first PDF (by content or by the job's "type"); the text is right.
#   2. the same pool on a machine without the library (a mount namespace where the file is
#      /dev/null): `bullpen check` warns with the package to install, the pool starts, a PDF
#      job fails with that reason (retried as its attempts allow: the host, not the file,
#      is at fault), a DOCX job on the same worker succeeds.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

docs=$BP_TMP/docs # the one directory path jobs may read (allowed_dirs)
mkdir -p "$docs"
/usr/bin/python3 "$BP_SOURCE_DIR/tests/support/docformats.py" --queue-files "$docs"
conf=$BP_TMP/bullpen.conf
bp_write_conf "$conf" "{ name = \"docs\"; workers = 1; handlers = (
    { job = \"*\"; type = \"document\"; chunk_format = \"json\"; allowed_dirs = [ \"$docs\" ]; }
  ); }"

lib=$(/usr/bin/python3 -c 'import ctypes.util, sys; print(ctypes.util.find_library("poppler-glib") or "")')
libpath=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|64bit|AArch64/ { print $NF; exit }')
[ -n "$libpath" ] && [ -e "$libpath" ] || bp_fail "libpoppler-glib not found by ldconfig ($lib): install libpoppler-glib8"

finished() { [ -n "$(bp_rcli HGET "bull:docs:$1" finishedOn)$(bp_rcli HGET "bull:docs:$1" failedOn)" ]; }
run() { # run LOG JSON [--opts JSON]: the job id once it has ended
    local id
    id=$("$BULLPEN_BIN" enqueue -c "$conf" -q docs index "$2" "${@:3}")
    BP_WAIT_S=30 bp_wait_for finished "$id" || { tail -20 "$1"; bp_fail "job $id never ended"; }
    echo "$id"
}
field() { bp_rcli HGET "bull:docs:$1" "$2"; }
maps_of() { cat "/proc/$1/maps" 2>/dev/null || true; }
stop_pool() {
    kill -TERM "$1"
    BP_WAIT_S=30 bp_wait_for bash -c "! kill -0 $1 2>/dev/null" || bp_fail "pool $1 did not stop"
}

# 1. who maps poppler
log=$BP_TMP/bullpen.log
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 1 worker on docs' "$log" || { cat "$log"; bp_fail "pool not ready"; }
# a DOCX first: the worker starts its extractor for every format but PDF, which never maps
# poppler-glib; then a PDF: its PDF extractor starts and maps it
id=$(run "$log" "{\"path\": \"$docs/handbook.docx\"}")
[ "$(field "$id" finishedOn)" != "" ] && [ -z "$(field "$id" failedReason)" ] || bp_fail "docx: $(field "$id" failedReason)"
worker=$(pgrep -P "$master" | head -1)
other=$(pgrep -P "$worker" -f 'bullpen-extractor __bullpen_extractor other$' || true)
[ -n "$worker" ] && [ -n "$other" ] || bp_fail "no worker ($worker) or extractor for other formats ($other) under master $master: $(ps -o pid,args --ppid "$worker" 2>/dev/null)"
[ "$(pgrep -P "$worker" -f bullpen-extractor | wc -l)" = 1 ] || bp_fail "a DOCX job started more than its extractor: $(ps -o pid,args --ppid "$worker")"
id=$(run "$log" "{\"path\": \"$docs/report.pdf\"}")
field "$id" returnvalue | /usr/bin/python3 -c '
import json, sys
v = json.loads(sys.stdin.read())
assert v["format"] == "pdf" and v["pages"] == 4, v' || bp_fail "pdf result: $(field "$id" returnvalue) $(field "$id" failedReason)"
extractor=$(pgrep -P "$worker" -f 'bullpen-extractor __bullpen_extractor pdf$' || true)
[ -n "$extractor" ] || bp_fail "no PDF extractor under worker $worker: $(ps -o pid,args --ppid "$worker")"
for p in "$master" "$worker" "$other"; do
    if maps_of "$p" | grep -E 'libpoppler|libglib-2|libcairo'; then
        bp_fail "process $p maps poppler-glib or its libraries: only the PDF extractor may"
    fi
done
maps_of "$extractor" | grep -q libpoppler-glib || bp_fail "the PDF extractor $extractor has no poppler-glib mapped"
# a PDF's header behind 1,000 bytes of junk still goes to the PDF extractor; the job's
# "type" routes first: a PDF's bytes typed "text" go to the other one, which refuses them as
# binary (the PDF one would say "internal: ... does not serve it"); new files each: a
# cached result would not reach the sandbox
printf '%1000s' '' | tr ' ' 'x' >"$docs/junk.pdf"
cat "$docs/report.pdf" >>"$docs/junk.pdf"
id=$(run "$log" "{\"path\": \"$docs/junk.pdf\"}")
field "$id" returnvalue | grep -q '"format":"pdf"' || bp_fail "junk.pdf: $(field "$id" returnvalue) $(field "$id" failedReason)"
{ cat "$docs/report.pdf"; echo '% typed copy'; } >"$docs/typed.pdf"
id=$(run "$log" "{\"path\": \"$docs/typed.pdf\", \"type\": \"text\"}")
case $(field "$id" failedReason) in
    *"typed.pdf' is binary data of an unknown format"*) ;;
    *) bp_fail "typed.pdf as text: $(field "$id" returnvalue) $(field "$id" failedReason)" ;;
esac
[ "$(pgrep -P "$worker" -f bullpen-extractor | wc -l)" = 2 ] || bp_fail "extractors: $(ps -o pid,args --ppid "$worker")"
echo "ok: a DOCX and a PDF parsed in the sandbox; only the PDF extractor maps poppler-glib, glib or cairo"
stop_pool "$master"

# 2. no library: check warns, the PDF job fails with the package to install, DOCX works
hide() { # hide CMD...: run CMD in a mount namespace where the library is an empty file
    local u=()
    [ "$(id -u)" = 0 ] || u=(-r)
    unshare "${u[@]}" -m --propagation private /bin/sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$libpath" "$@"
}
hide "$BULLPEN_BIN" check -c "$conf" >"$BP_TMP/check.out" 2>&1 || true
grep -q "^warning PDF jobs will fail: PDF support needs poppler's GLib library, and libpoppler-glib.so.8 cannot be loaded (.*); install it: apt-get install libpoppler-glib8 (poppler-glib 22.02 or newer)$" "$BP_TMP/check.out" ||
    bp_fail "check did not warn: $(cat "$BP_TMP/check.out")"
"$BULLPEN_BIN" check -c "$conf" | grep -q '^ok      PDF support: libpoppler-glib.so.8 loads$' ||
    bp_fail "check with the library: $("$BULLPEN_BIN" check -c "$conf" 2>&1)"
echo "ok: bullpen check says whether PDF support loads, and what to install"

log2=$BP_TMP/bullpen-nolib.log
hide "$BULLPEN_BIN" run -c "$conf" >"$log2" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 1 worker on docs' "$log2" || { cat "$log2"; bp_fail "pool not ready without the library"; }
{ cat "$docs/report.pdf"; echo '% another copy'; } >"$docs/report2.pdf" # not in the cache
id=$(run "$log2" "{\"path\": \"$docs/report2.pdf\"}" --opts '{"attempts": 2}')
reason=$(field "$id" failedReason)
case $reason in
    *"$docs/report2.pdf"*"PDF support needs poppler's GLib library, and libpoppler-glib.so.8 cannot be loaded ("*"); install it: apt-get install libpoppler-glib8"*) ;;
    *) bp_fail "PDF without the library: returnvalue '$(field "$id" returnvalue)', reason '$reason'" ;;
esac
# the host lacks a library, the file is fine: the job must not be discarded as a bad input
case $reason in
    *"not retried"*) bp_fail "PDF without the library is called a bad input: '$reason'" ;;
esac
[ "$(field "$id" attemptsMade)" = 2 ] || bp_fail "PDF without the library: $(field "$id" attemptsMade) attempts made of 2 (a host failure is retried)"
id=$(run "$log2" "{\"path\": \"$docs/handbook.docx\"}")
field "$id" returnvalue | /usr/bin/python3 -c '
import json, sys
v = json.loads(sys.stdin.read())
assert v["format"] == "docx", v' || bp_fail "docx without poppler: $(field "$id" returnvalue) $(field "$id" failedReason)"
grep -q 'worker .* exited\|killed by' "$log2" && bp_fail "a worker died: $(grep 'exited\|killed' "$log2")"
grep -E '\[(alert|crit)\]|Sanitizer' "$log2" && bp_fail "alert, crit or sanitizer lines in the log"
stop_pool "$master"
echo "ok: without libpoppler-glib the pool runs, a PDF job fails with the package to install, DOCX works"
