#!/usr/bin/env bash
# Chaos: a master failover under load on Redis Cluster (3 masters + 3 replicas, TLS, TLS
# cluster bus). Bull adds jobs one by one through ioredis Cluster clients (createClient)
# with prefix "{bull}" while the pool works them; once a third are done the master of the
# queue's slot is killed (BP_FAILOVER=kill: SIGKILL, the default; its replica is promoted
# after the node timeout, and the killed node is started again to rejoin as its replica)
# or handed over (BP_FAILOVER=graceful: CLUSTER FAILOVER on its replica). Counted: lost,
# run twice (the exec handler appends each run's job id to a file), stuck.
# BP_REPLICA_ACKS (default 1): redis.replica_acks, and the producer WAITs on the queue's
# master after each add; > 0 (or a graceful failover) asserts nothing is lost, a kill -9
# with 0 only reports; no job may be stuck in any mode.
# BP_CHAOS_JOBS (default 200).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
. "$BP_SOURCE_DIR/tests/support/topology.sh"
mode=${BP_FAILOVER:-kill}
acks=${BP_REPLICA_ACKS:-1}
chaos_init "failover_cluster_${mode}_acks$acks"
jobs=${BP_CHAOS_JOBS:-200}
bp_cluster_start
BP_CLUSTER_NODES=$(IFS=,; echo "${BP_CLUSTER_PORTS[*]}")
export BP_CLUSTER_NODES BP_PREFIX='{bull}' BP_PRODUCER_WAIT=$acks
runs=$BP_TMP/runs
: >"$runs"
live=${BP_CLUSTER_PORTS[0]}
export BP_TLS_PORT=$live # chaos_node passes it on; unused in cluster mode
slot=$(bp_cli_port "$live" CLUSTER KEYSLOT bull)
master_of_slot() {
    bp_cli_port "$live" CLUSTER SLOTS | awk -v s="$slot" '
        { a[NR] = $0 } END {
            for (i = 1; i <= NR; i++) if (a[i] ~ /^[0-9]+$/ && a[i + 1] ~ /^[0-9]+$/ &&
                a[i] + 0 <= s && s <= a[i + 1] + 0 && a[i + 2] == "127.0.0.1") { print a[i + 3]; exit }
        }'
}
count() { bp_cli_port "$(master_of_slot)" ZCARD "{bull}:$CHAOS_QUEUE:$1" 2>/dev/null || echo 0; }
settled() { [ $(($(count completed) + $(count failed))) -ge "$(chaos_added)" ]; }

# Bull's defaults for locks and stalls; hung_after_ms at its default (10 s) too: the
# workers are cut off from Redis for the node timeout (2 s) plus the election
nodes=""
for p in "${BP_CLUSTER_PORTS[@]:0:3}"; do nodes="$nodes${nodes:+, }\"127.0.0.1:$p\""; done
cat >"$CHAOS_CONF" <<CONF
redis = {
  url = "rediss://not-used.invalid/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  cluster = { nodes = [ $nodes ]; };
  replica_acks = $acks;
  connect_timeout_ms = 2000; command_timeout_ms = 3000;
};
pool = { heartbeat_ms = 250; shutdown_timeout_ms = 5000; };
queues = ( { name = "$CHAOS_QUEUE"; prefix = "{bull}"; workers = 4;
             handlers = ( { job = "*"; type = "exec";
                            argv = [ "/bin/sh", "-c", "echo \"\$BULLPEN_JOB_ID\" >> $runs" ]; } ); } );
log = { level = "info"; };
CONF
chaos_pool_start

chaos_node drip "$CHAOS_QUEUE" "$jobs" 5 work '{"n":1}' >"$BP_TMP/drip.log" 2>&1 &
drip=$!
bp_track_pid "$drip"
completed_ge() { [ "$(count completed)" -ge "$1" ]; }
BP_WAIT_S=120 bp_wait_for completed_ge $((jobs / 3)) || bp_fail "stuck below $((jobs / 3)) completed"
old=$(master_of_slot)
before=$(count completed)
for p in "${BP_CLUSTER_PORTS[@]}"; do [ "$p" != "$old" ] && live=$p && break; done
if [ "$mode" = graceful ]; then
    old_id=$(bp_cli_port "$old" CLUSTER MYID)
    for p in "${BP_CLUSTER_PORTS[@]}"; do
        if bp_cli_port "$p" CLUSTER NODES | grep myself | grep -q "$old_id"; then replica=$p; fi
    done
    bp_cli_port "$replica" CLUSTER FAILOVER >/dev/null
else
    kill -9 "$(bp_pid_of_port "$old")"
fi
t0=$(chaos_now_ms)
moved() { local m; m=$(master_of_slot); [ -n "$m" ] && [ "$m" != "$old" ]; }
BP_WAIT_S=60 bp_wait_for moved || bp_fail "no failover from $old"
echo "master $old ${mode}ed at $before completed; slot $slot on $(master_of_slot) after $(($(chaos_now_ms) - t0)) ms"
if [ "$mode" != graceful ]; then
    # the promoted replica has no replica of its own (3 masters + 3 replicas, no spare to
    # migrate): with replica_acks 1 nothing could be confirmed until the killed node is
    # back. It rejoins with its nodes.conf, as a replica of the new master.
    for i in "${!BP_CLUSTER_PORTS[@]}"; do [ "${BP_CLUSTER_PORTS[$i]}" = "$old" ] && idx=$i; done
    bp_node_start "$BP_TMP/cluster$idx" "$old" --cluster-enabled yes --tls-cluster yes \
        --cluster-config-file "$BP_TMP/cluster$idx/nodes.conf" --cluster-node-timeout 2000
    bp_node_wait "$old"
fi
BP_WAIT_S=60 bp_wait_for completed_ge $((before + 1)) ||
    { tail -30 "$CHAOS_LOG"; bp_fail "no job completed after the failover"; }
recovery=$(($(chaos_now_ms) - t0))
drip_done() { ! kill -0 "$drip" 2>/dev/null; }
BP_WAIT_S=120 bp_wait_for drip_done || { cat "$BP_TMP/drip.log"; bp_fail "the Bull producer hung"; }
rc=0; wait "$drip" || rc=$?
[ "$rc" -eq 0 ] || { cat "$BP_TMP/drip.log"; bp_fail "the Bull producer failed (exit $rc)"; }
cat "$BP_TMP/drip.log"
BP_WAIT_S=100 bp_wait_for settled || true
twice=$(sort "$runs" | uniq -d | wc -l)
echo "run twice: $twice job(s) ($(wc -l <"$runs") runs for $(chaos_added) added)"
# CLUSTER FAILOVER is coordinated (the master pauses its clients until the replica has its
# whole stream, then the replica takes over): nothing may be lost even with replica_acks 0.
# A kill -9 with replica_acks 0 may lose the last writes: reported, not asserted.
if [ "$acks" -gt 0 ] || [ "$mode" = graceful ]; then
    chaos_report "$recovery ms | run twice $twice | replica_acks $acks"
else
    (chaos_report "$recovery ms | run twice $twice | replica_acks 0") || true
fi
# in every mode: nothing left behind in wait or active once the pool has settled
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
         process.exit(r.waiting + r.active === 0 ? 0 : 1)' "$BP_TMP/audit.json" ||
    bp_fail "jobs stuck after the failover (waiting or active): $(cat "$BP_TMP/audit.json")"
# a coordinated handover loses no completion either, so nothing runs twice
[ "$mode" != graceful ] || [ "$twice" = 0 ] || bp_fail "$twice job(s) run twice after a graceful failover"
chaos_pool_stop
if grep -E '\[(alert|crit)\]|exited with status 78' "$CHAOS_LOG"; then bp_fail "bad lines in the log"; fi
