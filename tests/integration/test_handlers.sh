#!/usr/bin/env bash
# The handlers through the daemon against a real redis-server over TLS: the document handler's
# keys in Redis (chunk list, result, expiry, the cache hit, a multi-batch document with no
# temporary list left behind, a missing file), exec (stdout, PROGRESS, timeout) and the
# example plugin (settings, cache key). Complements the unit tests, which use a recording
# command callback instead of Redis.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

plugin=$BP_BUILD_DIR/tests/plugins/bp_example_plugin.so
[ -f "$plugin" ] || bp_fail "example plugin not built at $plugin"
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
docs=$BP_TMP/docs # the one directory path jobs may read (allowed_dirs)
mkdir -p "$docs"
bp_write_conf "$conf" "{ name = \"h\"; workers = 2; handlers = (
    { job = \"*\"; type = \"document\"; chunk_words = 5; overlap_words = 1; cache_ttl_s = 600;
      allowed_dirs = [ \"$docs\" ]; },
    { job = \"exec\"; type = \"exec\"; argv = [\"/bin/sh\", \"-c\", \"echo 'PROGRESS 50' >&2; cat\"]; },
    { job = \"slow\"; type = \"exec\"; argv = [\"/bin/sleep\", \"30\"]; timeout_ms = 300; },
    { job = \"plug\"; type = \"plugin\"; path = \"$plugin\"; settings = { greeting = \"hi\"; }; }
  ); }"

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers on h' "$log" || { cat "$log"; bp_fail "pool not ready"; }

finished() { [ -n "$(bp_rcli HGET "bull:h:$1" finishedOn)" ]; }
# run NAME JSON: enqueue, wait until finished, print the job id
run() {
    local id
    id=$("$BULLPEN_BIN" enqueue -c "$conf" -q h "$1" "$2")
    BP_WAIT_S=20 bp_wait_for finished "$id" || { tail -20 "$log"; bp_fail "job $id ($1) never finished"; }
    echo "$id"
}
field() { bp_rcli HGET "bull:h:$1" "$2"; }

# a text document: the result, its chunks and both expiries
id=$(run index '{"text": "one two three four five. six seven eight nine ten eleven"}')
rv=$(field "$id" returnvalue)
sha=$(printf '%s' 'one two three four five. six seven eight nine ten eleven' | sha256sum | cut -d' ' -f1)
[ "$rv" = "{\"sha256\":\"$sha\",\"bytes\":56,\"format\":\"text\",\"encoding\":\"UTF-8\",\"words\":11,\"chunks\":3,\"cached\":false}" ] ||
    bp_fail "document returnvalue: $rv"
chunks=$(bp_rcli LRANGE "bull:h:doc:$sha:chunks" 0 -1 | tr '\n' '|')
[ "$chunks" = "one two three four five.|five. six seven eight nine|nine ten eleven|" ] ||
    bp_fail "chunks in Redis: $chunks"
[ "$(bp_rcli GET "bull:h:doc:$sha")" = "$rv" ] || bp_fail "stored result differs from returnvalue"
for key in "bull:h:doc:$sha" "bull:h:doc:$sha:chunks"; do
    ttl=$(bp_rcli TTL "$key")
    [ "$ttl" -gt 0 ] && [ "$ttl" -le 600 ] || bp_fail "TTL of $key is $ttl, not in 1..600"
done
echo "ok: text document -> 3 chunks and the result in Redis, both expiring"

# the same text again: the seed's cache
id=$(run index '{"text": "one two three four five. six seven eight nine ten eleven"}')
[ "$(field "$id" returnvalue)" = "{\"sha256\":\"$sha\",\"bytes\":56,\"format\":\"text\",\"encoding\":\"UTF-8\",\"words\":11,\"chunks\":3,\"cached\":true}" ] ||
    bp_fail "second run not cached: $(field "$id" returnvalue)"
echo "ok: the same document again is a cache hit"

# a Markdown file, and a document of ~2500 chunks stored in batches through a temporary list
printf '# Title\n\nSome *text* with [a link](http://x).\n' > "$docs/a.md"
id=$(run index "{\"path\": \"$docs/a.md\"}")
sha=$(sha256sum "$docs/a.md" | cut -d' ' -f1)
[ "$(bp_rcli LRANGE "bull:h:doc:$sha:chunks" 0 -1 | tr '\n' '|')" = "Title Some text with a|a link.|" ] ||
    bp_fail "markdown chunks: $(bp_rcli LRANGE "bull:h:doc:$sha:chunks" 0 -1 | tr '\n' '|')"
seq 1 10001 | tr '\n' ' ' > "$docs/big.txt"
id=$(run index "{\"path\": \"$docs/big.txt\"}")
sha=$(sha256sum "$docs/big.txt" | cut -d' ' -f1)
rv=$(field "$id" returnvalue)
[ "$rv" = "{\"sha256\":\"$sha\",\"bytes\":48900,\"format\":\"text\",\"encoding\":\"UTF-8\",\"words\":10001,\"chunks\":2500,\"cached\":false}" ] ||
    bp_fail "big document returnvalue: $rv"
[ "$(bp_rcli LLEN "bull:h:doc:$sha:chunks")" = 2500 ] || bp_fail "big document list length"
[ "$(bp_rcli LINDEX "bull:h:doc:$sha:chunks" -1)" = "9997 9998 9999 10000 10001" ] ||
    bp_fail "last chunk: $(bp_rcli LINDEX "bull:h:doc:$sha:chunks" -1)"
[ -z "$(bp_rcli --scan --pattern 'bull:h:doc:*:tmp:*')" ] || bp_fail "a temporary chunk list was left"
echo "ok: markdown file; 2500 chunks in 3 batches, renamed into place"

# a missing file fails the job naming the path
id=$(run index "{\"path\": \"$docs/missing.txt\"}")
[ "$(field "$id" failedReason)" = "cannot read document: path '$docs/missing.txt' refused: cannot open it beneath allowed_dirs root '$docs': No such file or directory; allowed_dirs = [\"$docs\"] (document handler for job \"*\", config line 8)" ] ||
    bp_fail "missing file reason: $(field "$id" failedReason)"
echo "ok: missing document fails naming the path"

# exec: stdout is the result, PROGRESS on stderr is the job's progress; timeout
id=$(run exec '{"a":[1,2]}')
[ "$(field "$id" returnvalue)" = '{"a":[1,2]}' ] || bp_fail "exec returnvalue: $(field "$id" returnvalue)"
[ "$(field "$id" progress)" = 50 ] || bp_fail "exec progress: $(field "$id" progress)"
id=$(run slow '{}')
[ "$(field "$id" failedReason)" = "timed out after 300 ms" ] || bp_fail "slow reason: $(field "$id" failedReason)"
pgrep -f '^/bin/sleep 30$' >/dev/null && bp_fail "the timed-out program is still running"
echo "ok: exec result, progress and timeout"

# the example plugin: its settings, its cache key
id=$(run plug '{"x":1}')
[ "$(field "$id" returnvalue)" = '{"greeting":"hi","bytes":7,"attempt":1,"previous":null,"cancelled":0}' ] ||
    bp_fail "plugin returnvalue: $(field "$id" returnvalue)"
[ "$(bp_rcli GET bull:h:cache:count)" = 1 ] || bp_fail "plugin cache key"
echo "ok: plugin result and cache"

grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert, crit or sanitizer lines in the log"
echo "ok: handlers end to end"
