#!/usr/bin/env bash
# test_metrics.sh -- the master's Prometheus endpoint on a real pool over TLS: /healthz turns
# 200 once the pool is ready, /metrics counts the jobs the workers complete and fail, shows
# the live workers and Bull's queue depths, and the port is closed again after TERM. A port
# already in use is refused at start with a message naming metrics.listen.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
port=$(bp_free_port)
bp_write_conf "$conf"
echo "metrics = { listen = \"127.0.0.1:$port\"; };" >>"$conf"

# GET a path; prints "STATUS\n" then the body. Never fails: status 000 = no answer.
http_get() {
    python3 - "$port" "$1" <<'PY'
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
try:
    with urllib.request.urlopen(url, timeout=10) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
except Exception as e:
    print("000"); print(e)
PY
}
status_is() {
    local r
    r=$(http_get "$1")
    [ "${r%%$'\n'*}" = "$2" ]
}
# the value of one exact sample line in /metrics, or nothing
sample() { http_get /metrics | awk -v s="$1" 'index($0, s " ") == 1 {print $NF}'; }
sample_is() { [ "$(sample "$1")" = "$2" ]; }

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers on test' "$log" || { cat "$log"; bp_fail "pool not ready"; }
grep -q "metrics on http://127.0.0.1:$port/metrics" "$log" || bp_fail "the log does not say where metrics are"

BP_WAIT_S=20 bp_wait_for status_is /healthz 200 || bp_fail "/healthz not 200 on a ready pool: $(http_get /healthz)"
status_is /nope 404 || bp_fail "/nope is not 404"
body=$(http_get /metrics)
[ "$(head -n 1 <<<"$body")" = 200 ] || bp_fail "/metrics: $body"
grep -q '^# TYPE bullpen_job_duration_seconds histogram$' <<<"$body" || bp_fail "no histogram family"
grep -q "^bullpen_build_info{version=\"" <<<"$body" || bp_fail "no build info"
BP_WAIT_S=20 bp_wait_for sample_is 'bullpen_workers_alive{queue="test"}' 2 ||
    bp_fail "workers_alive is not 2: $(sample 'bullpen_workers_alive{queue="test"}')"
echo "ok: /healthz 200, /metrics served, 2 workers alive"

# 6 completed, 2 failed (no retries: attempts 1)
for i in $(seq 1 6); do "$BULLPEN_BIN" enqueue -c "$conf" echo "{\"i\":$i}" >/dev/null; done
for i in 1 2; do "$BULLPEN_BIN" enqueue -c "$conf" fail '{"message":"boom"}' >/dev/null; done
BP_WAIT_S=30 bp_wait_for sample_is 'bullpen_jobs_completed_total{queue="test"}' 6 ||
    bp_fail "completed_total is not 6: $(http_get /metrics | grep -E 'jobs_|queue_jobs')"
BP_WAIT_S=30 bp_wait_for sample_is 'bullpen_jobs_failed_total{queue="test"}' 2 ||
    bp_fail "failed_total is not 2: $(http_get /metrics | grep -E 'jobs_')"
BP_WAIT_S=30 bp_wait_for sample_is 'bullpen_job_duration_seconds_count{queue="test"}' 8 ||
    bp_fail "duration histogram count is not 8: $(http_get /metrics | grep duration_seconds_count)"
BP_WAIT_S=30 bp_wait_for sample_is 'bullpen_queue_jobs{queue="test",state="completed"}' 6 ||
    bp_fail "queue depth 'completed' is not 6: $(http_get /metrics | grep queue_jobs)"
echo "ok: 6 completed, 2 failed, 8 durations, Bull's completed count 6"

# a second master on the same port is refused at start, naming the setting
conf2=$BP_TMP/second.conf
sed 's/name = "test"/name = "other"/' "$conf" >"$conf2"
set +e
timeout 60 "$BULLPEN_BIN" run -c "$conf2" >"$BP_TMP/second.log" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
    bp_fail "a second master on a taken port exited $rc"
fi
grep -q 'metrics.listen' "$BP_TMP/second.log" || bp_fail "refusal does not name metrics.listen: $(cat "$BP_TMP/second.log")"
grep -q 'Address already in use' "$BP_TMP/second.log" || bp_fail "refusal does not say why"
status_is /healthz 200 || bp_fail "the first master's endpoint suffered from the refused one"
echo "ok: a taken port is refused (exit $rc)"

# TERM: the endpoint goes away with the master
kill -TERM "$master"
BP_WAIT_S=30 bp_wait_for sh -c "! kill -0 $master 2>/dev/null" || bp_fail "master did not stop"
wait "$master" 2>/dev/null || true
status_is /healthz 000 || bp_fail "the metrics port still answers after the master stopped"
if grep -E '\[(alert|crit)\]|Sanitizer' "$log"; then
    bp_fail "the daemon log has alert/crit/sanitizer lines"
fi
echo "PASS test_metrics"
