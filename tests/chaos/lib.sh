# shellcheck shell=bash
# tests/chaos/lib.sh -- sourced by tests/chaos/test_*.sh: one real TLS redis-server
# (tests/support/redis.sh), jobs added by Bull itself (bulljobs.js, bull@4 from
# tests/interop/node_modules), a bullpen pool, and the audit that counts every added id.
#
#   chaos_init NAME                    counts from the environment, node_modules present
#   chaos_conf FILE WORKERS HANDLERS [QUEUE_EXTRA] [POOL_EXTRA] [PORT]
#   chaos_pool_start                   bullpen run -c $CHAOS_CONF, waits for "pool ready"
#   chaos_add N NAME DATA [OPTS]       Bull's addBulk; ids appended to $BP_IDS
#   chaos_wait_settled [SECONDS]       until completed + failed = added
#   chaos_report RECOVERY_MS [--echo]  audit, print the scenario line (kills from $CHAOS_KILLS,
#                                      crashes, reruns, lost), assert lost = 0; a job failed
#                                      after a single crash of its run counts as lost
#   chaos_pool_stop                    TERM, wait, check the log for sanitizer lines
#
# Sizes: BP_CHAOS_JOBS (jobs per scenario; CI default in each test, scripts/chaos sets it
# large), BP_CHAOS_ROUNDS (disruptions per scenario). Nothing here asserts a duration:
# deadlines are generous and only catch a run that never finishes.
set -u
: "${BP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
. "$BP_SOURCE_DIR/tests/support/redis.sh"
CHAOS_QUEUE=chaos
CHAOS_DIR=$BP_SOURCE_DIR/tests/chaos
CHAOS_NODE_DIR=$BP_SOURCE_DIR/tests/interop

chaos_init() {
    CHAOS_NAME=$1
    command -v node >/dev/null || bp_fail "node is not installed (Node 20 + bull@4 add the jobs)"
    if [ ! -d "$CHAOS_NODE_DIR/node_modules/bull" ]; then
        (cd "$CHAOS_NODE_DIR" && npm ci --silent --no-audit --no-fund) ||
            bp_fail "npm ci in $CHAOS_NODE_DIR failed (is the npm registry reachable?)"
    fi
    export NODE_PATH=$CHAOS_NODE_DIR/node_modules
    export BP_IDS=$BP_TMP/ids
    : >"$BP_IDS"
    CHAOS_CONF=$BP_TMP/bullpen.conf
    CHAOS_LOG=$BP_TMP/bullpen.log
    CHAOS_MASTER=
    CHAOS_T0=$(date +%s%N)
}

chaos_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# chaos_conf FILE WORKERS HANDLERS [QUEUE_EXTRA] [POOL_EXTRA] [PORT]
chaos_conf() {
    local file=$1 workers=$2 handlers=$3 qextra=${4:-} pextra=${5:-} port=${6:-$BP_TLS_PORT}
    cat >"$file" <<CONF
redis = {
  url = "rediss://localhost:$port/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  connect_timeout_ms = 2000; command_timeout_ms = 3000;
};
pool = { heartbeat_ms = 250; hung_after_ms = 4000; shutdown_timeout_ms = 5000; $pextra };
queues = ( { name = "$CHAOS_QUEUE"; workers = $workers; block_timeout_s = 1; $qextra
             handlers = ( $handlers ); } );
log = { level = "info"; };
CONF
}

chaos_node() { (cd "$CHAOS_DIR" && BP_TLS_PORT=$BP_TLS_PORT BP_CERTS=$BP_CERTS timeout 600 node bulljobs.js "$@"); }

chaos_add() {
    chaos_node add "$CHAOS_QUEUE" "$@" >/dev/null || bp_fail "adding jobs with Bull failed"
}

chaos_added() { wc -l <"$BP_IDS"; }
chaos_settled_count() {
    echo $(($(bp_rcli ZCARD "bull:$CHAOS_QUEUE:completed") + $(bp_rcli ZCARD "bull:$CHAOS_QUEUE:failed")))
}
chaos_settled() { [ "$(chaos_settled_count)" -ge "$(chaos_added)" ]; }

chaos_wait_settled() {
    BP_WAIT_S=${1:-90} bp_wait_for chaos_settled || {
        tail -40 "$CHAOS_LOG"
        chaos_node audit "$CHAOS_QUEUE"
        bp_fail "$CHAOS_NAME: only $(chaos_settled_count) of $(chaos_added) jobs settled"
    }
}

chaos_pool_start() {
    "$BULLPEN_BIN" run -c "$CHAOS_CONF" >>"$CHAOS_LOG" 2>&1 &
    CHAOS_MASTER=$!
    bp_track_pid "$CHAOS_MASTER"
    BP_WAIT_S=30 bp_wait_for grep -q 'pool ready' "$CHAOS_LOG" ||
        { tail -30 "$CHAOS_LOG"; bp_fail "pool not ready"; }
}

chaos_workers() { pgrep -P "$CHAOS_MASTER" 2>/dev/null | sort -n; }
chaos_workers_are() { [ "$(chaos_workers | wc -l)" -eq "$1" ]; }
# a random worker that runs a job right now (its process title says "busy job ID"), or any
chaos_busy_worker() {
    local w
    w=$(ps -o pid=,args= --ppid "$CHAOS_MASTER" 2>/dev/null | awk '/busy job/ {print $1}' | shuf -n 1)
    [ -n "$w" ] || w=$(chaos_workers | shuf -n 1)
    echo "$w"
}
# a random busy, running (not stopped) worker that has lived at least ${BP_CHAOS_MIN_AGE_S:-6} s
# (an older death is not a "quick death" to the master, so its slot is respawned at once)
chaos_busy_old_worker() {
    ps -o pid=,etimes=,stat=,args= --ppid "$CHAOS_MASTER" 2>/dev/null |
        awk -v age="${BP_CHAOS_MIN_AGE_S:-6}" '$2 >= age && $3 !~ /T/ && /busy job/ {print $1}' |
        shuf -n 1
}
chaos_job_of() { ps -o args= -p "$1" 2>/dev/null | sed -n 's/.*busy job \([^ ]*\).*/\1/p'; }
chaos_job_settled() {
    [ -n "$(bp_rcli ZSCORE "bull:$CHAOS_QUEUE:completed" "$1")$(bp_rcli ZSCORE "bull:$CHAOS_QUEUE:failed" "$1")" ]
}

chaos_pool_stop() {
    [ -n "$CHAOS_MASTER" ] || return 0
    kill -TERM "$CHAOS_MASTER" 2>/dev/null || true
    BP_WAIT_S=30 bp_wait_for bash -c "! kill -0 $CHAOS_MASTER" || bp_fail "master did not stop on TERM"
    wait "$CHAOS_MASTER" 2>/dev/null || true
    CHAOS_MASTER=
    if grep -E 'Sanitizer|runtime error:' "$CHAOS_LOG"; then
        bp_fail "$CHAOS_NAME: sanitizer report in the log"
    fi
}

# chaos_report RECOVERY_TEXT [--echo]: audit every added id, print the scenario line, and
# fail when a job was lost or sits in two places. The JSON is kept in $BP_TMP/audit.json.
chaos_report() {
    local recovery=$1
    shift
    local json
    # one line per crash of a running job: the master recovered it by the dead worker's token
    grep -o "queue '$CHAOS_QUEUE': job [^ ]* \(moved back to wait\|failed: stalled more than max_stalled\) (worker" \
        "$CHAOS_LOG" | awk '{print $4}' >"$BP_TMP/crashes" || true
    json=$(BP_CRASHES=$BP_TMP/crashes chaos_node audit "$CHAOS_QUEUE" "$@") || bp_fail "audit failed"
    echo "$json" >"$BP_TMP/audit.json"
    local line
    # shellcheck disable=SC2016 # JavaScript template strings, not shell expansions
    line=$(node -e '
        const r = JSON.parse(process.argv[2]);
        const reasons = Object.entries(r.failed_reasons).map(([k, v]) => `${v}x "${k}"`).join("; ");
        console.log(`kills ${process.argv[1]} crashes ${r.crashes} ` +
          `added ${r.added} completed ${r.completed} failed ${r.failed} ` +
          `waiting ${r.waiting} active ${r.active} delayed ${r.delayed} lost ${r.lost} ` +
          `duplicated ${r.duplicated} reruns ${r.reruns} (stalled ${r.stalled}, retried ${r.retried})` +
          (r.failed_after_one_crash ? ` failed_after_one_crash ${r.failed_after_one_crash}` : "") +
          (r.mismatched ? ` mismatched ${r.mismatched}` : "") + (reasons ? ` | failed: ${reasons}` : "") +
          (r.latency_ms ? ` | added->finished median ${r.latency_ms.median} ms, p95 ${r.latency_ms.p95} ms, ` +
            `max ${r.latency_ms.max} ms` : ""));
        if (r.lost_ids.length) console.log(`lost ids: ${r.lost_ids.join(" ")}`);
        if (r.duplicated_ids.length) console.log(`duplicated: ${r.duplicated_ids.join(" ")}`);
    ' "${CHAOS_KILLS:-0}" "$json")
    # the master's verdicts, by reason (a healthy worker killed is a finding, not a failure)
    local kills
    kills=$(sed -n 's/.*: \(no heartbeat\|bclient silent\|deaf subscriber\|main loop frozen\)[^;]*; killing it$/\1/p' \
        "$CHAOS_LOG" | sort | uniq -c | awk '{c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", "}')
    line="$line | health kills: ${kills:-none}"
    echo "CHAOS $CHAOS_NAME: $line | recovery $recovery | $(( ($(date +%s%N) - CHAOS_T0) / 1000000000 )) s"
    echo "CHAOS $CHAOS_NAME: $line | recovery $recovery" >>"${BP_CHAOS_SUMMARY:-/dev/null}"
    node -e 'const r = JSON.parse(process.argv[1]);
             process.exit(r.lost === 0 && r.duplicated === 0 && r.mismatched === 0 ? 0 : 1)' "$json" ||
        { grep -E 'error|warn|crit|alert' "$CHAOS_LOG" | tail -30; bp_fail "$CHAOS_NAME: jobs lost or duplicated"; }
}

# chaos_requeue_ms PID: epoch ms of the master's log line that recovered the job of worker
# PID ("moved back to wait (worker N (pid PID) ..." or "failed: ... (pid PID)"), or nothing
# when that worker held no job.
chaos_requeue_ms() {
    local ts
    ts=$(grep -m1 -E "job .* (moved back to wait|failed: .*) \(worker [0-9]+ \(pid $1\)" "$CHAOS_LOG" | cut -d' ' -f1)
    [ -n "$ts" ] && date -d "$ts" +%s%3N
}

# median and max of a list of integers (milliseconds), as "median N ms, max M ms (K samples)"
chaos_stats_ms() {
    [ $# -gt 0 ] || { echo "n/a"; return; }
    printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {printf "median %d ms, max %d ms (%d samples)", a[int((NR + 1) / 2)], a[NR], NR}'
}
