#!/usr/bin/env bash
# Issue 11's bug, with Bull's defaults (max_stalled 1, lock 30 s, stalled check 30 s): a pool
# of 2; one `sleep` job of 3000 ms; while it runs, BOTH workers get kill -9 at once (the one
# running it and the idle one, blocked in its BRPOPLPUSH). Before the fix, about one try in
# five failed the job with "job stalled more than allowable limit", stalledCounter 2: the
# master put the job back to wait while Redis still served the dead idle worker's pull, which
# took it straight back into active with no lock, and the sweep counted a second stall.
# Now the master closes a dead worker's connections (CLIENT KILL ID, ids from the worker
# link) before it moves anything, and a job pulled but never locked goes back to wait
# without a stall. Every try must end completed, run twice, stalledCounter exactly 1.
# BP_RECOVER_TRIES (default 6) tries. BP_TOPOLOGY=cluster runs it on a Redis Cluster (3
# masters + 3 replicas; test_recover_exact_cluster.sh): CLIENT IDs are numbered per node, so
# the kill must reach the node of the worker's queue, not the master's own home node.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"

conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
# Bull's defaults: nothing set for max_stalled, lock_duration_ms, stalled_interval_ms
queue='{ name = "test"; workers = 2; handlers = ( { job = "*"; type = "sleep"; } ); }'
P=bull
if [ "${BP_TOPOLOGY:-single}" = cluster ]; then
    . "$BP_SOURCE_DIR/tests/support/topology.sh"
    bp_cluster_start
    P='{bull}'
    # the queue's slot on another master than the master process's home (slot 0's): a kill
    # sent to the home node would name ids there, not the worker's connections
    bp_rcli() { bp_cli_port "${BP_CLUSTER_PORTS[0]}" -c "$@"; }
    cat >"$conf" <<CONF
redis = {
  url = "rediss://not-used.invalid/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  cluster = { nodes = [ "127.0.0.1:${BP_CLUSTER_PORTS[0]}", "127.0.0.1:${BP_CLUSTER_PORTS[1]}" ]; };
  connect_timeout_ms = 2000;
};
pool = { heartbeat_ms = 200; shutdown_timeout_ms = 5000; };
queues = ( { name = "test"; prefix = "$P"; workers = 2; handlers = ( { job = "*"; type = "sleep"; } ); } );
log = { level = "info"; };
CONF
else
    bp_redis_start
    bp_write_conf "$conf" "$queue"
fi
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
BP_WAIT_S=30 bp_wait_for grep -q 'pool ready: 2 workers' "$log" || { cat "$log"; bp_fail "pool not ready"; }

workers() { pgrep -P "$master" | xargs; }
idle_pool() { [ "$(ps -o args= --ppid "$master" | grep -c 'worker .* idle')" = 2 ]; }
busy_with() { ps -o args= --ppid "$master" | grep -q "busy job $1 "; }
settled() { [ -n "$(bp_rcli ZSCORE "$P:test:completed" "$1")$(bp_rcli ZSCORE "$P:test:failed" "$1")" ]; }

tries=${BP_RECOVER_TRIES:-6}
for t in $(seq 1 "$tries"); do
    BP_WAIT_S=30 bp_wait_for idle_pool || { tail -20 "$log"; bp_fail "try $t: the pool is not back to 2 idle workers"; }
    id=$("$BULLPEN_BIN" enqueue -c "$conf" -q test sleep '{"ms":3000}')
    BP_WAIT_S=10 bp_wait_for busy_with "$id" || bp_fail "try $t: job $id did not start"
    sleep 0.$((RANDOM % 9 + 1)) # somewhere inside the 3 s run
    # shellcheck disable=SC2046 # both pids, in one kill: at once
    kill -9 $(workers)
    BP_WAIT_S=40 bp_wait_for settled "$id" || { tail -30 "$log"; bp_fail "try $t: job $id never settled"; }
    state=completed
    [ -n "$(bp_rcli ZSCORE "$P:test:completed" "$id")" ] || state=failed
    sc=$(bp_rcli HGET "$P:test:$id" stalledCounter)
    echo "try $t: job $id $state, stalledCounter $sc, failedReason '$(bp_rcli HGET "$P:test:$id" failedReason)'"
    [ "$state" = completed ] || { tail -30 "$log"; bp_fail "try $t: job $id failed after a single crash"; }
    [ "$sc" = 1 ] || { tail -30 "$log"; bp_fail "try $t: job $id has stalledCounter $sc after one crash"; }
done
grep -q 'refuses CLIENT KILL' "$log" && bp_fail "Redis refused CLIENT KILL: the test proves nothing"
# every death sent CLIENT KILL ID for the dead worker's connections to the server that
# numbered them (0 closed is fine: Redis may have seen the close already)
sent=$(grep -c 'dead worker: [0-9]* of [1-9][0-9]* Redis connections closed (CLIENT KILL ID on' "$log" || true)
[ "$sent" -ge $((2 * tries)) ] || { grep 'Redis connections closed' "$log"; bp_fail "$sent kill rounds for $((2 * tries)) deaths"; }
grep 'of a dead worker not closed' "$log" && bp_fail "a dead worker's connection was not addressed"
if [ "${BP_TOPOLOGY:-single}" = cluster ]; then # sent to the queue's node, not slot 0's
    owner=
    for p in "${BP_CLUSTER_PORTS[@]}"; do
        bp_cli_port "$p" EXISTS "$P:test:id" 2>&1 | grep -q '^[0-9]' && owner=$p
    done
    [ "$owner" != "${BP_CLUSTER_PORTS[0]}" ] || bp_fail "the queue's slot is on slot 0's node: the test proves nothing"
    bad=$(grep 'Redis connections closed (CLIENT KILL ID on' "$log" | grep -vc "ID on 127.0.0.1:$owner)" || true)
    [ "$bad" = 0 ] || bp_fail "$bad kill rounds went to another node than the queue's (127.0.0.1:$owner)"
fi
if grep -E '\[(alert|crit)\]|Sanitizer|runtime error:' "$log"; then bp_fail "alert, crit or sanitizer lines in the log"; fi
echo "ok: $tries tries, both workers SIGKILLed mid-job each time: every job completed with stalledCounter 1"
