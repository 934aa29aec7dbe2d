#!/usr/bin/env bash
# The extraction sandbox end to end: documents that exhaust a limit fail THEIR job, for good
# (no retry), with a reason naming the file, the format and what happened, while the same
# worker keeps serving; Bull's job timeout stops a document job; an extractor killed from
# outside is replaced; the extractor holds no secret (empty environment, only its channel
# fd) and is confined (NoNewPrivs, Landlock); Bull progress reaches the job hash.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
BP_REDIS_PASS="sandbox-test-pass-$$"
bp_redis_start --requirepass "$BP_REDIS_PASS"

docs=$BP_TMP/docs
mkdir -p "$docs"
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" "{ name = \"docs\"; workers = 1; handlers = ( { job = \"*\"; type = \"document\";
      allowed_dirs = [ \"$docs\" ]; sandbox = { memory_mb = 16; output_mb = 4; }; } ); },
  { name = \"roomy\"; workers = 1; handlers = ( { job = \"*\"; type = \"document\";
      allowed_dirs = [ \"$docs\" ]; progress_ms = 1; } ); }"

# a 24 MB text needs more than 16 MB to parse; a 6 MB one fits but writes over 4 MB
python3 - "$docs" <<'PY'
import sys
d = sys.argv[1]
word = b"sandbox "
open(d + "/big.txt", "wb").write(word * (24 * 1024 * 1024 // len(word)))
open(d + "/wordy.txt", "wb").write(word * (6 * 1024 * 1024 // len(word)))
PY

# the password only in the environment: it must not reach the extractor
BULLPEN_REDIS_PASSWORD=$BP_REDIS_PASS "$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

enq() { BULLPEN_REDIS_PASSWORD=$BP_REDIS_PASS "$BULLPEN_BIN" enqueue -c "$conf" -q docs "$@"; }
failed_has() { [ -n "$(bp_rcli ZSCORE bull:docs:failed "$1")" ]; }
completed_has() { [ -n "$(bp_rcli ZSCORE bull:docs:completed "$1")" ]; }
field() { bp_rcli HGET "bull:docs:$1" "$2"; }
n_ok=0
expect_ok() { # a new document each time: a cached result would not reach the sandbox
    local id
    n_ok=$((n_ok + 1))
    printf '# Title\n\nSome *text* %d.\n' "$n_ok" >"$docs/ok$n_ok.md"
    id=$(enq index "{\"path\":\"$docs/ok$n_ok.md\"}")
    BP_WAIT_S=20 bp_wait_for completed_has "$id" || { tail -20 "$log"; bp_fail "ok.md job $id did not complete"; }
    field "$id" returnvalue | grep -q '"words":4,' || bp_fail "ok.md result: $(field "$id" returnvalue)"
}

expect_ok
worker=$(pgrep -P "$master" -f 'worker [0-9]+ \[docs\]')
extractor=$(pgrep -P "$worker" -f __bullpen_extractor || true)
[ -n "$extractor" ] || bp_fail "no extractor process under the worker"
# no secret: an empty environment, fds 0..3 only, no new privileges, a Landlock domain
# (a sanitizer build passes its *SAN_OPTIONS, nothing else)
env_left=$(tr '\0' '\n' </proc/"$extractor"/environ | grep -v '^[A-Z]*SAN_OPTIONS=' || true)
[ -z "$env_left" ] || bp_fail "the extractor has an environment: $env_left"
# 0..2, the channel (a socket) and its own /proc/self/statm (the address space at fork)
fds=$(cd /proc/"$extractor"/fd && for f in $(ls | sort -n); do printf '%s=%s ' "$f" "$(readlink "$f")"; done)
case $fds in "0=/dev/null 1=/dev/null 2="*" 3=socket:["*"] 4=/proc/$extractor/statm ") ;;
    *) bp_fail "the extractor holds fds: $fds" ;; esac
case $fds in *rediss*|*TCP*|*"$BP_CERTS"*) bp_fail "the extractor holds a secret fd: $fds" ;; esac
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/"$extractor"/status || bp_fail "extractor without NoNewPrivs"
grep -q 'sandbox: extractor pid .* up' "$log" || bp_fail "no sandbox start line"
echo "ok: extractor pid $extractor: empty environment, fds $fds, NoNewPrivs"

# out of memory: fails for good (attempts 3, one made), the reason says file, format, limit
id=$(enq index "{\"path\":\"$docs/big.txt\"}" --opts '{"attempts":3}')
BP_WAIT_S=30 bp_wait_for failed_has "$id" || { tail -20 "$log"; bp_fail "big.txt job $id did not fail"; }
reason=$(field "$id" failedReason)
want="document '$docs/big.txt': text parser ran out of memory"
case $reason in "$want"*"(limit 16 MB, sandbox.memory_mb); not retried"*) ;; *) bp_fail "big.txt reason: '$reason'" ;; esac
[ "$(field "$id" attemptsMade)" = 1 ] || bp_fail "big.txt was retried: attemptsMade $(field "$id" attemptsMade)"
echo "ok: out of memory -> '$reason'"
expect_ok

# output over output_mb
id=$(enq index "{\"path\":\"$docs/wordy.txt\"}" --opts '{"attempts":2}')
BP_WAIT_S=30 bp_wait_for failed_has "$id" || { tail -20 "$log"; bp_fail "wordy.txt job $id did not fail"; }
reason=$(field "$id" failedReason)
case $reason in "document '$docs/wordy.txt': text parser produced more than 4 MB of output (limit sandbox.output_mb); not retried"*) ;;
    *) bp_fail "wordy.txt reason: '$reason'" ;; esac
[ "$(field "$id" attemptsMade)" = 1 ] || bp_fail "wordy.txt was retried"
echo "ok: output limit -> '$reason'"
expect_ok

# Bull's job timeout on a document job: Bull's text, retried per attempts (a timeout is not
# a property of the input); the keeper cancels, the sandbox stops the parse, nobody is killed
# (queue "roomy", default limits: the 24 MB file parses there, in far more than 5 ms)
id=$(BULLPEN_REDIS_PASSWORD=$BP_REDIS_PASS "$BULLPEN_BIN" enqueue -c "$conf" -q roomy index \
    "{\"path\":\"$docs/big.txt\"}" --opts '{"timeout":5,"attempts":2}')
BP_WAIT_S=30 bp_wait_for eval '[ -n "$(bp_rcli ZSCORE bull:roomy:failed "$id")" ]' ||
    { tail -20 "$log"; bp_fail "timeout job $id did not fail"; }
reason=$(bp_rcli HGET "bull:roomy:$id" failedReason)
[ "$reason" = "Promise timed out after 5 milliseconds" ] || bp_fail "timeout reason: '$reason'"
[ "$(bp_rcli HGET "bull:roomy:$id" attemptsMade)" = 2 ] || bp_fail "timeout job was not retried"
echo "ok: opts.timeout on a document job -> '$reason', 2 attempts"
expect_ok

# progress: a parse records Bull progress (a percentage) in the job hash as it goes
# (queue "roomy" records every 1 ms instead of 500: the 24 MB parse is shorter than 500 ms)
id=$(BULLPEN_REDIS_PASSWORD=$BP_REDIS_PASS "$BULLPEN_BIN" enqueue -c "$conf" -q roomy index \
    "{\"path\":\"$docs/big.txt\"}")
BP_WAIT_S=30 bp_wait_for eval '[ -n "$(bp_rcli ZSCORE bull:roomy:completed "$id")" ]' ||
    { tail -20 "$log"; bp_fail "progress job $id did not complete"; }
progress=$(bp_rcli HGET "bull:roomy:$id" progress)
[ "$progress" -ge 1 ] && [ "$progress" -le 100 ] || bp_fail "progress of job $id: '$progress'"
echo "ok: progress recorded during the parse: $progress"

# a stray TERM does not end the extractor (only the worker does, or SIGKILL)
kill -TERM "$extractor"
expect_ok
kill -0 "$extractor" || bp_fail "the extractor died of SIGTERM"
grep -q "sandbox: extractor pid $extractor is gone" "$log" && bp_fail "extractor replaced after TERM"
echo "ok: the extractor ignores a stray SIGTERM"

# the extractor killed from outside: the next document starts a new one
kill -KILL "$extractor"
expect_ok
grep -q "sandbox: extractor pid $extractor is gone; starting another" "$log" ||
    bp_fail "no restart line for extractor $extractor"
echo "ok: extractor replaced after SIGKILL"

# one worker all along: no crash, no respawn, no kill
[ "$(grep -c 'client, subscriber, bclient connected' "$log")" = 2 ] || bp_fail "a worker was restarted"
grep -q 'killing it' "$log" && bp_fail "a worker was killed"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
