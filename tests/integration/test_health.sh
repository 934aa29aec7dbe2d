#!/usr/bin/env bash
# test_health.sh -- liveness and readiness on a real pool over TLS, and that `bullpen ctl
# status` and `bullpen stats` say the same:
#  - ready pool: /healthz 200 "live", /readyz 200 "ready"; stats and ctl status live/ready yes;
#    `bullpen stats --json` lists the workers as soon as "pool ready" is logged;
#  - HUP reload that replaces every worker one at a time while they run jobs: /healthz never
#    answers anything but 200 (a liveness probe must not restart a pool that serves);
#  - a worker that cannot connect (Redis at maxclients): /readyz 503 "2 of 3 workers
#    connected" while /healthz stays 200, and stats and ctl status say so;
#  - Redis gone: /healthz 503 naming Redis; back: 200 again;
#  - graceful stop while a job runs: /readyz 503 "stopping", /healthz still 200.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
bp_redis_start

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
port=$(bp_free_port)
openssl rand -hex 32 >"$BP_TMP/control.key"
bp_write_conf "$conf" '{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "sleep"; } ); }' \
    "control_key_file = \"$BP_TMP/control.key\";"
echo "metrics = { listen = \"127.0.0.1:$port\"; };" >>"$conf"

http_get() { # "STATUS BODY" on one line (000 = no answer)
    python3 - "$port" "$1" <<'PY'
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print("000", e)
PY
}
status_is() { [ "$(http_get "$1" | cut -d' ' -f1)" = "$2" ]; }
stats_json() { "$BULLPEN_BIN" stats -c "$conf" --json; }
stats_says() { # stats_says live|ready true|false
    stats_json | python3 -c "import json,sys; d=json.load(sys.stdin); m=d['masters']; sys.exit(0 if m and all(x['$1'] == $2 for x in m) else 1)"
}

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }
# the workers are in `bullpen stats` from the "pool ready" line on: no waiting here
n=$(stats_json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['workers']))")
[ "$n" = 2 ] || bp_fail "bullpen stats shows $n workers right after 'pool ready' (want 2)"
r=$(http_get /healthz)
[ "$r" = "200 live" ] || bp_fail "/healthz on a ready pool: $r"
r=$(http_get /readyz)
[ "$r" = "200 ready" ] || bp_fail "/readyz on a ready pool: $r"
stats_says live True && stats_says ready True || bp_fail "stats does not say live and ready: $(stats_json)"
"$BULLPEN_BIN" stats -c "$conf" | grep -Eq ' yes +yes +([0-9.]+ +)?2 of 2 connected$' || bp_fail "stats table: $("$BULLPEN_BIN" stats -c "$conf")"
"$BULLPEN_BIN" ctl -c "$conf" status | grep -q 'live: yes, ready: yes' ||
    bp_fail "ctl status: $("$BULLPEN_BIN" ctl -c "$conf" status 2>&1)"
echo "ok: ready pool: /healthz 200, /readyz 200, stats and ctl status say live and ready"

# HUP: every worker replaced one at a time, each after its job; /healthz sampled throughout
for i in 1 2 3 4; do "$BULLPEN_BIN" enqueue -c "$conf" sleep '{"ms":1500}' >/dev/null; done
sed -i 's/heartbeat_ms = 200;/heartbeat_ms = 250;/' "$conf"
gen_before=$(pgrep -P "$master" | xargs)
kill -HUP "$master"
samples=0 bad=0 notready=0
replaced() { for p in $gen_before; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
deadline=$((SECONDS + 40))
while ! replaced || ! status_is /readyz 200; do
    r=$(http_get /healthz)
    samples=$((samples + 1))
    [ "${r%% *}" = 200 ] || { bad=$((bad + 1)); echo "during reload: /healthz $r"; }
    status_is /readyz 200 || notready=$((notready + 1))
    [ $SECONDS -lt $deadline ] || bp_fail "the reload did not replace the workers in 40 s"
    sleep 0.1
done
[ "$bad" = 0 ] || bp_fail "/healthz was not 200 in $bad of $samples samples during a HUP reload"
echo "ok: HUP reload: /healthz 200 in all $samples samples ($notready /readyz samples not ready)"

# a worker that cannot connect: /readyz 503, /healthz 200. Redis is told to take two clients
# more than it has (room for the commands of this test), then TTIN asks for a third worker:
# it cannot open its three connections, exits 75, and after three tries the master stops
# respawning it until Redis answers the master again (the circuit breaker): a stable state.
cur=$(bp_rcli CLIENT LIST | wc -l) # the pool's connections plus this one
bp_rcli CONFIG SET maxclients $((cur + 1)) >/dev/null # two free: ctl uses two
kill -TTIN "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'unreachable for new workers: pausing respawns' "$log" ||
    { tail -20 "$log"; bp_fail "the third worker's start failures did not open the breaker"; }
r=$(http_get /readyz)
[ "$r" = "503 not ready: 2 of 3 workers connected" ] || bp_fail "/readyz with a worker missing: $r"
status_is /healthz 200 || bp_fail "/healthz not 200 with a worker missing: $(http_get /healthz)"
BP_WAIT_S=10 bp_wait_for stats_says ready False || bp_fail "stats does not say not ready: $(stats_json)"
stats_says live True || bp_fail "stats does not say live: $(stats_json)"
"$BULLPEN_BIN" ctl -c "$conf" status | grep -q 'live: yes, ready: no (2 of 3 workers connected)' ||
    bp_fail "ctl status: $("$BULLPEN_BIN" ctl -c "$conf" status 2>&1 | head -3)"
echo "ok: a missing worker: /readyz $r, /healthz 200, stats and ctl status say not ready"
bp_rcli CONFIG SET maxclients 10000 >/dev/null
kill -TTOU "$master" # back to 2: the slot that never started goes first
BP_WAIT_S=30 bp_wait_for status_is /readyz 200 || bp_fail "/readyz did not come back: $(http_get /readyz)"

# Redis gone: not live, naming Redis; back: live
bp_redis_stop
BP_WAIT_S=20 bp_wait_for status_is /healthz 503 || bp_fail "/healthz still 200 without Redis"
r=$(http_get /healthz)
case "$r" in "503 not live: Redis at "*" unreachable"*) ;; *) bp_fail "/healthz without Redis: $r" ;; esac
status_is /readyz 503 || bp_fail "/readyz 200 without Redis"
echo "ok: Redis down: $r"
bp_redis_start
# the same port: a fresh server on it (redis.sh picks the port again only when unset)
BP_WAIT_S=30 bp_wait_for status_is /healthz 200 || bp_fail "/healthz not back after Redis: $(http_get /healthz)"
BP_WAIT_S=30 bp_wait_for status_is /readyz 200 || bp_fail "/readyz not back after Redis: $(http_get /readyz)"
echo "ok: Redis back: /healthz and /readyz 200"

# graceful stop with a job running: not ready, still live
"$BULLPEN_BIN" enqueue -c "$conf" sleep '{"ms":3000}' >/dev/null
BP_WAIT_S=10 bp_wait_for bash -c "ps -o args= --ppid $master | grep -q 'busy job'" || bp_fail "the job did not start"
kill -TERM "$master"
BP_WAIT_S=5 bp_wait_for status_is /readyz 503 || bp_fail "/readyz still 200 while stopping"
r=$(http_get /readyz)
[ "$r" = "503 not ready: the pool is stopping" ] || bp_fail "/readyz while stopping: $r"
status_is /healthz 200 || bp_fail "/healthz not 200 while a graceful stop drains: $(http_get /healthz)"
echo "ok: graceful stop: /readyz $r, /healthz 200"
wait "$master" || bp_fail "master exit code $?"
if grep -E '\[(alert|crit)\]|Sanitizer|runtime error:' "$log"; then bp_fail "alert, crit or sanitizer lines in the log"; fi
echo PASS
