#!/usr/bin/env bash
# The prefork pool against a real redis-server over TLS: start-up story and named
# connections, jobs worked end to end, kill -9 and SIGSTOP verdicts with respawn, TTIN/TTOU,
# HUP with a broken and a valid file, TERM waiting for a running job, no zombies, flat fd
# count across respawns, and no worker outliving a SIGKILLed master.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf"

workers_of() { pgrep -P "$1" 2>/dev/null | sort -n; }
count_workers() { workers_of "$master" | wc -l; }
bullpen_conns() { bp_rcli CLIENT LIST | grep -c 'name=\(bullpen:\|bull:dGVzdA==:bullpen\)' || true; }
completed() { bp_rcli ZCARD bull:test:completed; }
workers_are() { [ "$(count_workers)" -eq "$1" ]; }
conns_are() { [ "$(bullpen_conns)" -eq "$1" ]; }
completed_are() { [ "$(completed)" -eq "$1" ]; }
is_completed() { [ -n "$(bp_rcli ZSCORE bull:test:completed "$1")" ]; }
has_lock() { [ -n "$(bp_rcli GET "bull:test:$1:lock")" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# the worker whose process title says it runs job $1
worker_running() { ps -o pid=,args= --ppid "$master" | awk -v j="busy job $1 " '$0 ~ j {print $1}'; }

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"

# start-up: N x 3 named worker connections plus the master's two
bp_wait_for grep -q 'pool ready: 2 workers on test' "$log" || { cat "$log"; bp_fail "pool not ready"; }
grep -q 'configuration read from' "$log" || bp_fail "start-up story lacks the config line"
grep -q 'client, subscriber, bclient connected to rediss://localhost' "$log" || bp_fail "no per-worker connect line"
bp_wait_for conns_are 8 || { bp_rcli CLIENT LIST; bp_fail "expected 8 named connections, got $(bullpen_conns)"; }
bp_rcli CLIENT LIST | grep -q 'name=bull:dGVzdA==:bullpen:' || bp_fail "bclient name is not Bull's getWorkers() prefix"
echo "ok: 2 workers, 8 named connections"

# jobs worked end to end
for i in $(seq 1 20); do "$BULLPEN_BIN" enqueue -c "$conf" echo "{\"i\":$i}" >/dev/null; done
bp_wait_for completed_are 20 || bp_fail "20 echo jobs not completed (got $(completed))"
[ "$(bp_rcli HGET bull:test:20 returnvalue)" = '{"i":20}' ] || bp_fail "echo returnvalue differs"
echo "ok: 20 jobs completed"

# kill -9 a worker mid-job: replaced, its job recovered and run again
"$BULLPEN_BIN" enqueue -c "$conf" sleep '{"ms":3000}' >/dev/null
bp_wait_for has_lock 21 || bp_fail "sleep job 21 never became active"
title_shows() { [ -n "$(worker_running "$1")" ]; }
bp_wait_for title_shows 21 || true
victim=$(worker_running 21)
[ -n "$victim" ] || { ps -o pid,args --ppid "$master"; bp_fail "no process title shows job 21"; }
t0=$(date +%s%N)
kill -9 "$victim"
bp_wait_for workers_are 2 || bp_fail "worker not replaced after kill -9"
workers_of "$master" | grep -qx "$victim" && bp_fail "killed worker $victim still listed"
bp_wait_for grep -q 'killed by SIGKILL' "$log" || bp_fail "death not logged"
BP_WAIT_S=15 bp_wait_for is_completed 21 || { tail -30 "$log"; bp_fail "killed job 21 never completed"; }
[ "$(bp_rcli HGET bull:test:21 stalledCounter)" = 1 ] || bp_fail "stalledCounter of job 21 is not 1"
echo "ok: kill -9 -> worker replaced, job 21 run again and completed $(( ($(date +%s%N) - t0) / 1000000 )) ms later (a 3 s job; stalledCounter 1)"

# SIGSTOP a worker: killed within hung_after_ms plus a heartbeat, replaced
victim=$(workers_of "$master" | head -1)
kill -STOP "$victim"
BP_WAIT_S=15 bp_wait_for gone "$victim" || bp_fail "stopped worker $victim not killed"
grep -q "no heartbeat for" "$log" || bp_fail "hung verdict not logged"
bp_wait_for workers_are 2 || bp_fail "stopped worker not replaced"
echo "ok: SIGSTOPped worker killed and replaced"

# TTIN / TTOU
kill -TTIN "$master"
bp_wait_for workers_are 3 || bp_fail "TTIN did not add a worker"
kill -TTOU "$master"
bp_wait_for workers_are 2 || bp_fail "TTOU did not remove a worker"
echo "ok: TTIN/TTOU"

# HUP with a broken file keeps running; with a valid file changes the worker count
cp "$conf" "$conf.good"
echo 'pool = { heartbeat_ms = "fast"; };' >> "$conf"
kill -HUP "$master"
bp_wait_for grep -q 'reload refused' "$log" || bp_fail "broken reload not refused"
grep 'reload refused' "$log" | grep -q "$conf:" || bp_fail "refusal does not name file:line"
sleep 0.5
[ "$(count_workers)" -eq 2 ] || bp_fail "broken reload changed the pool"
sed 's/workers = 2/workers = 3/' "$conf.good" > "$conf"
kill -HUP "$master"
BP_WAIT_S=20 bp_wait_for grep -q 'pool ready: 3 workers' "$log" || { tail -20 "$log"; bp_fail "valid reload did not bring 3 workers"; }
BP_WAIT_S=20 bp_wait_for workers_are 3 || bp_fail "not 3 workers after reload"
echo "ok: HUP broken kept, HUP valid -> 3 workers"

# fd count of a worker stays flat across respawns
fds_of_first() { ls /proc/$(workers_of "$master" | head -1)/fd | wc -l; }
sleep 1
fd0=$(fds_of_first)
for i in $(seq 1 10); do
    kill -9 $(workers_of "$master" | head -1)
    bp_wait_for workers_are 3 || bp_fail "respawn $i failed"
done
sleep 1
fd1=$(fds_of_first)
[ "$fd1" -le "$fd0" ] || bp_fail "worker fds grew from $fd0 to $fd1 across respawns"
mfd=$(ls /proc/$master/fd | wc -l)
echo "ok: worker fds $fd0 -> $fd1 after 10 respawns; master fds $mfd"

# TERM while a job runs waits for it
"$BULLPEN_BIN" enqueue -c "$conf" sleep '{"ms":1500}' > "$BP_TMP/id"
id=$(cat "$BP_TMP/id")
bp_wait_for has_lock "$id" || bp_fail "sleep job not taken"
kill -TERM "$master"
BP_WAIT_S=15 bp_wait_for gone "$master" || bp_fail "master did not stop on TERM"
wait "$master" || bp_fail "master exit code $? on TERM"
[ -n "$(bp_rcli ZSCORE bull:test:completed "$id")" ] || bp_fail "TERM did not wait for job $id"
pgrep -f "bullpen run -c $conf" >/dev/null && bp_fail "processes left after TERM"
echo "ok: TERM waited for job $id; nothing left running"

# no worker outlives a SIGKILLed master
"$BULLPEN_BIN" run -c "$conf" >>"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for workers_are 3 || bp_fail "second run did not start"
kids=$(workers_of "$master")
kill -9 "$master"
wait "$master" 2>/dev/null || true
for k in $kids; do
    BP_WAIT_S=10 bp_wait_for gone "$k" || bp_fail "worker $k outlived its master"
done
echo "ok: workers exited after the master was SIGKILLed"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert/crit/sanitizer lines in the log"
echo "PASS"
