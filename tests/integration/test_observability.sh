#!/usr/bin/env bash
# What an operator sees: /metrics and /healthz scraped during a run (the counters move),
# `bullpen stats` (table and --json), the log file reopened on USR1 after a rename
# (logrotate), and recycling by max_jobs_per_worker (one worker at a time, never mid-job).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
mport=$(bp_free_port)
bp_write_conf "$conf" '{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "echo"; }, { job = "fail"; type = "fail"; } ); }' \
    'max_jobs_per_worker = 50;'
sed -i "s|^log = .*|log = { level = \"info\"; file = \"$log\"; };\nmetrics = { listen = \"127.0.0.1:$mport\"; };|" "$conf"

"$BULLPEN_BIN" run -c "$conf" >"$BP_TMP/stderr" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log" "$BP_TMP/stderr"; bp_fail "pool not ready"; }

scrape() { curl -sf "http://127.0.0.1:$mport/metrics"; }
metric() { scrape | awk -v k="$1" 'index($0, k) == 1 {print $NF; exit}'; }
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/healthz")" = 200 ]; }
BP_WAIT_S=15 bp_wait_for healthy || bp_fail "/healthz is not 200 on a ready pool"

before=$(metric 'bullpen_jobs_completed_total{queue="test"}'); before=${before:-0}
for i in $(seq 1 120); do "$BULLPEN_BIN" enqueue -c "$conf" echo "{\"i\":$i}" >/dev/null; done
"$BULLPEN_BIN" enqueue -c "$conf" fail '{"message":"boom"}' >/dev/null
moved() { [ "$(metric 'bullpen_jobs_completed_total{queue="test"}')" -ge $((before + 120)) ]; }
BP_WAIT_S=20 bp_wait_for moved || { scrape | grep bullpen_jobs; bp_fail "jobs_completed did not move by 120"; }
failed_moved() { [ "$(metric 'bullpen_jobs_failed_total{queue="test"}')" -ge 1 ]; }
BP_WAIT_S=10 bp_wait_for failed_moved || bp_fail "jobs_failed did not move"
echo "--- a scrape during the run:"
scrape | grep -E '^bullpen_(jobs_(completed|failed)_total|workers|queue_jobs\{queue="test",state="(completed|failed)"\}|redis_)' | head -20
echo "--- bullpen stats:"
"$BULLPEN_BIN" stats -c "$conf"
"$BULLPEN_BIN" stats -c "$conf" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); q=d["queues"]["test"]; assert q["completed"]>=120, q; assert len(d["workers"])==2, d["workers"]; print("stats --json ok:", q)'

# recycling: each worker is replaced after ~50 jobs, one at a time
recycled() { grep -q 'recycling after' "$log"; }
BP_WAIT_S=15 bp_wait_for recycled || bp_fail "no worker was recycled after max_jobs_per_worker"
back_to_two() { [ "$(pgrep -P "$master" | wc -l)" -eq 2 ]; }
BP_WAIT_S=15 bp_wait_for back_to_two || bp_fail "recycled worker not replaced"
echo "ok: recycling after max_jobs_per_worker"

# logrotate: rename, USR1, and every process writes to the new file
mv "$log" "$log.1"
kill -USR1 "$master"
reopened() { [ -s "$log" ] && grep -q 'log files reopened' "$log"; }
BP_WAIT_S=10 bp_wait_for reopened || bp_fail "the master did not reopen its log on USR1"
for i in $(seq 1 5); do "$BULLPEN_BIN" enqueue -c "$conf" echo '{}' >/dev/null; done
kill -TTIN "$master" # a worker line must land in the new file too
worker_line() { grep -q 'worker .* connected to' "$log"; }
BP_WAIT_S=10 bp_wait_for worker_line || bp_fail "no worker line in the reopened log"
echo "ok: USR1 reopened the log after a rename"

kill -TERM "$master"
wait "$master" || bp_fail "master exit code $?"
grep -E '\[(alert|crit)\]|Sanitizer' "$log" "$log.1" "$BP_TMP/stderr" && bp_fail "alert/crit/sanitizer lines"
echo PASS
