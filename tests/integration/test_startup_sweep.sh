#!/usr/bin/env bash
# What a new master finds after its predecessor's pool died as a whole (SIGKILL to the
# process group, KillMode=control-group, the OOM killer), with Bull's defaults (max_stalled
# 1, lock 30 s, stalled check 30 s), staged by hand so each part is certain:
#  1. a dead worker's pull that Redis still serves: a connection named like a bullpen
#     bclient of this host whose pid is dead, blocked in BRPOPLPUSH on the queue. The new
#     master must close it (CLIENT KILL) before anything is moved, or it would swallow jobs;
#  2. a job that dead pull had moved into active without running it (no lock, no
#     processedOn): back to wait without a stall;
#  3. a job a dead worker was running: locked with its token, registered in the host's
#     token registry; recovered at once (one stall), not 30 s later when its lock expires.
# Every job then completes; the stall counts are exact.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" '{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; } ); }'
host=$(hostname)
sleep 0 & dead1=$!
wait "$dead1"
sleep 0 & dead2=$!
wait "$dead2"

# 1. the dead pool's pull, still served
b64=$(printf test | base64)
printf 'CLIENT SETNAME bull:%s:bullpen:%s:%s\nBRPOPLPUSH bull:test:wait bull:test:active 0\n' "$b64" "$host" "$dead1" |
    bp_rcli >"$BP_TMP/ghost.out" 2>&1 &
ghost=$!
bp_track_pid "$ghost"
blocked() { bp_rcli CLIENT LIST | grep -q "name=bull:$b64:bullpen:$host:$dead1 .*cmd=brpoplpush"; }
bp_wait_for blocked || bp_fail "the ghost pull is not blocked"
# 2. a job that pull had taken without running it
bp_rcli HSET bull:test:orphan name echo data '{"o":1}' opts '{}' timestamp 1 delay 0 priority 0 >/dev/null
bp_rcli LPUSH bull:test:active orphan >/dev/null
# 3. a job a dead worker was running, locked with its registered token
token=11111111-2222-4333-8444-555555555555
bp_rcli HSET bull:test:running name echo data '{"r":1}' opts '{}' timestamp 1 delay 0 priority 0 processedOn "$(($(date +%s%3N) - 5000))" >/dev/null
bp_rcli LPUSH bull:test:active running >/dev/null
bp_rcli SET bull:test:running:lock "$token" PX 30000 >/dev/null
bp_rcli HSET "bullpen:control:tokens:$host" "$token" "{\"master\":$dead2,\"pid\":$dead1,\"prefix\":\"bull\",\"queue\":\"test\",\"ms\":1}" >/dev/null

t0=$(date +%s%N)
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }
BP_WAIT_S=10 bp_wait_for bash -c "! kill -0 $ghost" || bp_fail "the dead pool's pull was not closed"
grep -q "start-up: closed Redis client [0-9]* 'bull:$b64:bullpen:$host:$dead1' of dead pid $dead1" "$log" ||
    { cat "$log"; bp_fail "the start-up did not say it closed the dead pull"; }
completed() { [ -n "$(bp_rcli ZSCORE bull:test:completed "$1")" ]; }
BP_WAIT_S=15 bp_wait_for completed running || { tail -20 "$log"; bp_fail "the dead worker's job was not recovered"; }
BP_WAIT_S=15 bp_wait_for completed orphan || { tail -20 "$log"; bp_fail "the orphaned job was not recovered"; }
ms=$((($(date +%s%N) - t0) / 1000000))
# a new job goes to a live worker, not to a ghost
id=$("$BULLPEN_BIN" enqueue -c "$conf" -q test echo '{"n":1}')
BP_WAIT_S=10 bp_wait_for completed "$id" || bp_fail "a new job did not complete"
[ "$(bp_rcli HGET bull:test:running stalledCounter)" = 1 ] || bp_fail "the crashed job's stalledCounter is not 1"
[ -z "$(bp_rcli HGET bull:test:orphan stalledCounter)" ] || bp_fail "the never-run job counted a stall"
[ "$(bp_rcli HEXISTS "bullpen:control:tokens:$host" "$token")" = 0 ] || bp_fail "the dead token is still registered"
echo "ok: dead pull closed, crashed job recovered (1 stall), never-run job back without a stall, all within $ms ms of the start"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
[ "$(bp_rcli HLEN "bullpen:control:tokens:$host")" = 0 ] || bp_fail "tokens left registered after a clean stop: $(bp_rcli HGETALL "bullpen:control:tokens:$host")"
if grep -E '\[(alert|crit)\]|Sanitizer|runtime error:' "$log"; then bp_fail "alert, crit or sanitizer lines in the log"; fi
echo PASS
