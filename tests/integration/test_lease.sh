#!/usr/bin/env bash
# Leases (lease_max, default 16): a worker with a backlog takes several jobs per round trip.
# What Bull's API must still see: a leased job counts as started only when its handler
# starts (processedOn), a job that runs long gives the rest of its lease back to wait at
# once (other workers take them; they carry no processedOn), and a worker killed with -9
# while draining a backlog costs at most one stall (the job it ran): the jobs it had leased
# but not started go back without one. Bull's defaults (max_stalled 1, lock 30 s).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log

# Bull's addJob, reduced to what a plain job needs: hash, id counter, LPUSH wait
add_jobs() { # NAME DATA COUNT
    bp_rcli EVAL "local now = redis.call('TIME')[1] * 1000
      for i = 1, tonumber(ARGV[3]) do
        local id = redis.call('INCR', 'bull:test:id')
        redis.call('HSET', 'bull:test:' .. id, 'name', ARGV[1], 'data', ARGV[2], 'opts', '{}',
                   'timestamp', now, 'delay', 0, 'priority', 0)
        redis.call('LPUSH', 'bull:test:wait', id)
      end
      return redis.call('GET', 'bull:test:id')" 0 "$1" "$2" "$3" >/dev/null
}
completed_are() { [ "$(bp_rcli ZCARD bull:test:completed)" -eq "$1" ]; }

# 1. one worker; queued before it starts: echo, a 2 s sleep, 5 echoes
add_jobs echo '{"n":1}' 1
add_jobs sleep '{"ms":2000}' 1
add_jobs echo '{"n":2}' 5
bp_write_conf "$conf" '{ name = "test"; workers = 1; handlers = ( { job = "*"; type = "echo"; }, { job = "sleep"; type = "sleep"; } ); }'
# every event of the queue, in the order Redis published them
events=$BP_TMP/events
bp_rcli PSUBSCRIBE 'bull:test:active@*' 'bull:test:completed' >"$events" &
bp_track_pid $!
subscribed() { grep -q 'completed' "$events"; }
bp_wait_for subscribed || bp_fail "the event listener did not subscribe"
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready' "$log" || { cat "$log"; bp_fail "pool not ready"; }
sleep_started() { [ -n "$(bp_rcli HGET bull:test:2 processedOn)" ]; }
bp_wait_for sleep_started || { tail "$log"; bp_fail "the sleep job's start was never recorded"; }
[ -n "$(bp_rcli GET bull:test:2:lock)" ] || bp_fail "the sleep job has a processedOn but no lock: it is not running"
# the keeper gave the rest of the lease back while the sleep runs: 5 jobs in wait, unstarted
given_back() { [ "$(bp_rcli LLEN bull:test:wait)" -eq 5 ]; }
bp_wait_for given_back || bp_fail "the leased jobs were not given back (wait: $(bp_rcli LLEN bull:test:wait))"
for id in 3 4 5 6 7; do
    [ -z "$(bp_rcli HGET bull:test:$id processedOn)" ] || bp_fail "job $id has a processedOn but never started"
    [ -z "$(bp_rcli GET bull:test:$id:lock)" ] || bp_fail "job $id given back but still locked"
done
[ -n "$(bp_rcli ZSCORE bull:test:completed 1)" ] || bp_fail "job 1's completion was held while the long job ran"
BP_WAIT_S=20 bp_wait_for completed_are 7 || bp_fail "not all 7 jobs completed"
for id in 1 2 3 4 5 6 7; do
    p=$(bp_rcli HGET bull:test:$id processedOn); f=$(bp_rcli HGET bull:test:$id finishedOn)
    t=$(bp_rcli HGET bull:test:$id timestamp)
    [ -n "$p" ] && [ "$p" -le "$f" ] && [ "$t" -le "$p" ] || bp_fail "job $id: timestamp $t processedOn '$p' finishedOn $f out of order"
done
[ "$(bp_rcli HGET bull:test:2 returnvalue)" = '{"slept":2000}' ] || bp_fail "sleep job's returnvalue"
# per job: its active event, then its completed event (a leased job's start is published
# with its completion or by the keeper, never after it), and one active event each
check_events() {
    python3 - "$events" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
seq = []  # (kind, id) in publication order; raw redis-cli: pmessage, pattern, channel, payload
for i, l in enumerate(lines):
    if l == "pmessage" and i + 3 < len(lines):
        ch, payload = lines[i + 2], lines[i + 3]
        if "active@" in ch:
            seq.append(("active", payload))
        elif ch.endswith(":completed"):
            seq.append(("completed", str(json.loads(payload)["jobId"])))
for jid in map(str, range(1, 8)):
    kinds = [k for k, j in seq if j == jid]
    if kinds != ["active", "completed"]:
        sys.exit("job %s: events %s, want active then completed" % (jid, kinds))
PY
}
have_events() { [ "$(grep -c '"jobId"' "$events")" -ge 7 ]; }
bp_wait_for have_events || { cat "$events"; bp_fail "not every completed event was seen"; }
check_events || { cat "$events"; bp_fail "events out of order"; }
echo "ok: $(grep -c "\"jobId\"" "$events") completed and $(grep -c "active@" "$events") active@ lines, each job active then completed"
echo "ok: a leased job starts when its handler does; a long job gives its lease back at once"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"

# 2. a backlog, two workers, one killed with -9 mid-drain: at most one stall, nothing lost
bp_rcli FLUSHALL >/dev/null
add_jobs echo '{"x":1}' 20000
: >"$log"
bp_write_conf "$conf" '{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; } ); }'
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
some_done() { [ "$(bp_rcli ZCARD bull:test:completed)" -ge 2000 ]; }
BP_WAIT_S=30 bp_wait_for some_done || bp_fail "the backlog does not drain"
victim=$(pgrep -P "$master" | head -1)
kill -9 "$victim"
BP_WAIT_S=60 bp_wait_for completed_are 20000 || { tail -20 "$log"; bp_fail "not all 20000 jobs completed ($(bp_rcli ZCARD bull:test:completed))"; }
stalls=$(bp_rcli EVAL "local n = 0
  for i = 1, 20000 do if redis.call('HGET', 'bull:test:' .. i, 'stalledCounter') then n = n + 1 end end
  return n" 0)
[ "$stalls" -le 1 ] || bp_fail "$stalls jobs count a stall after one worker death (at most 1: the one it ran)"
[ "$(bp_rcli ZCARD bull:test:failed)" -eq 0 ] || bp_fail "jobs failed"
[ "$(bp_rcli LLEN bull:test:active)" -eq 0 ] || bp_fail "jobs left in active"
grep "had leased but not started" "$log" || true
echo "ok: kill -9 of a worker draining 20000 jobs: all completed, $stalls stall(s)"
kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo PASS
