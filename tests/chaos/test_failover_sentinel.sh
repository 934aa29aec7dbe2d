#!/usr/bin/env bash
# Chaos: a master failover under load on Redis Sentinel (1 master + 2 replicas + 3
# sentinels, TLS). Bull (ioredis in sentinel mode) adds jobs one by one while the pool
# works them; once a third are done the master is killed (BP_FAILOVER=kill: SIGKILL, the
# default) or handed over: BP_FAILOVER=graceful is a planned switchover (CLIENT PAUSE WRITE
# on the old master, SENTINEL FAILOVER, REPLICAOF by hand once the sentinels name the new
# master, CLIENT KILL TYPE normal, CLIENT UNPAUSE); BP_FAILOVER=graceful-unpaused is SENTINEL
# FAILOVER alone, which loses the writes the old master takes until Sentinel demotes it
# (10-15 s later; Redis issue #4819): measured, never asserted. Bull's producer (ioredis in
# sentinel mode) reconnects on READONLY (bulljobs.js): without it, in about 1 of 5 paused
# switchovers it reconnected to the old master, now a replica, and failed every add from
# then on. Counted at the end:
# lost (added, acknowledged to Bull, and in no list), run twice (the exec handler appends
# each run's job id to a file), stuck (still waiting or active after the deadline).
#
# BP_REPLICA_ACKS (default 1) is redis.replica_acks, and the producer WAITs for as many
# replicas after each add (Bull's part of the bargain). With it > 0 the test asserts that
# nothing is lost; with 0 (BP_REPLICA_ACKS=0, the measurement in scripts/failover-cost) it
# only reports. BP_CHAOS_JOBS (default 200), BP_CHAOS_ROUNDS failovers (default 1).
set -euo pipefail
. "$BP_SOURCE_DIR/tests/chaos/lib.sh"
. "$BP_SOURCE_DIR/tests/support/topology.sh"
mode=${BP_FAILOVER:-kill}
acks=${BP_REPLICA_ACKS:-1}
chaos_init "failover_sentinel_${mode}_acks$acks"
jobs=${BP_CHAOS_JOBS:-200}
rounds=${BP_CHAOS_ROUNDS:-1}
bp_sentinel_start
sentinels=$(IFS=,; echo "${BP_SENTINEL_PORTS[*]}")
export BP_SENTINELS=$sentinels BP_SENTINEL_NAME=$BP_MASTER_NAME BP_PRODUCER_WAIT=$acks
runs=$BP_TMP/runs
: >"$runs"
# bp_rcli (chaos_settled_count, chaos_job_settled) talks to whoever is master now
refresh_master() { BP_TLS_PORT=$(bp_sentinel_master_port); }
refresh_master

# Bull's defaults for locks and stalls: a lost completion is found by the stalled check
# within 30 s (the job is still active on the new master, its lock expiring)
cat >"$CHAOS_CONF" <<CONF
redis = {
  url = "rediss://not-used.invalid/0";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  $(bp_sentinel_conf_group)
  replica_acks = $acks;
  connect_timeout_ms = 2000; command_timeout_ms = 3000;
};
pool = { heartbeat_ms = 250; shutdown_timeout_ms = 5000; };
queues = ( { name = "$CHAOS_QUEUE"; workers = 4;
             handlers = ( { job = "*"; type = "exec";
                            argv = [ "/bin/sh", "-c", "echo \"\$BULLPEN_JOB_ID\" >> $runs" ]; } ); } );
log = { level = "info"; };
CONF
chaos_pool_start

chaos_node drip "$CHAOS_QUEUE" "$jobs" 5 work '{"n":1}' >"$BP_TMP/drip.log" 2>&1 &
drip=$!
bp_track_pid "$drip"
completed() { refresh_master; bp_rcli ZCARD "bull:$CHAOS_QUEUE:completed" 2>/dev/null || echo 0; }
completed_ge() { [ "$(completed)" -ge "$1" ]; }
recov=()
for r in $(seq 1 "$rounds"); do
    target=$((jobs * r / (rounds + 2)))
    BP_WAIT_S=120 bp_wait_for completed_ge "$target" || bp_fail "round $r: stuck below $target completed"
    old=$(bp_sentinel_master_port)
    before=$(completed)
    t0=$(chaos_now_ms)
    if [ "$mode" = graceful ]; then
        # the README's planned switchover: hold writes on the old master first, so it cannot
        # accept writes the promoted replica will never see (Sentinel demotes the old master
        # only at its next check, about 10 s later, and until then it is a master: see
        # graceful-unpaused), then hand over. Held writers are closed by the sentinels'
        # reconfiguration (or get READONLY when the pause ends) and retry on the new master.
        bp_cli_port "$old" CLIENT PAUSE 60000 WRITE >/dev/null
        bp_cli_port "${BP_SENTINEL_PORTS[0]}" SENTINEL FAILOVER "$BP_MASTER_NAME" >/dev/null
        # the pause also holds the sentinels' own reconfiguration of the old master (a
        # MULTI ... REPLICAOF ... EXEC): demote it by hand once they name the new one
        named() { [ "$(bp_sentinel_master_port)" != "$old" ]; }
        BP_WAIT_S=60 bp_wait_for named || bp_fail "round $r: no failover from $old"
        bp_cli_port "$old" REPLICAOF 127.0.0.1 "$(bp_sentinel_master_port)" >/dev/null
        demoted() { bp_cli_port "$old" ROLE 2>/dev/null | head -1 | grep -q slave; }
        BP_WAIT_S=60 bp_wait_for demoted || bp_fail "round $r: $old not demoted"
        # as the sentinels' reconfiguration does: close its clients (their held writes are
        # dropped, never run), so they ask the sentinels again, then lift the pause
        bp_cli_port "$old" CLIENT KILL TYPE normal >/dev/null
        bp_cli_port "$old" CLIENT UNPAUSE >/dev/null
    elif [ "$mode" = graceful-unpaused ]; then
        bp_cli_port "${BP_SENTINEL_PORTS[0]}" SENTINEL FAILOVER "$BP_MASTER_NAME" >/dev/null
    else
        kill -9 "$(bp_pid_of_port "$old")"
    fi
    moved() { [ "$(bp_sentinel_master_port)" != "$old" ]; }
    BP_WAIT_S=60 bp_wait_for moved || bp_fail "round $r: no failover from $old"
    echo "round $r: master $old ${mode}ed at $before completed; sentinels name $(bp_sentinel_master_port) after $(($(chaos_now_ms) - t0)) ms"
    BP_WAIT_S=60 bp_wait_for completed_ge $((before + 1)) ||
        { tail -30 "$CHAOS_LOG"; bp_fail "round $r: no job completed after the failover"; }
    recov+=($(($(chaos_now_ms) - t0)))
    if [ "$mode" = kill ] && [ "$r" -lt "$rounds" ]; then
        # the killed node comes back as a replica, so the next round has two again
        idx=0
        for i in 0 1 2; do [ "${BP_DATA_PORTS[$i]}" = "$old" ] && idx=$i; done
        bp_node_start "$BP_TMP/data$idx" "$old" --replicaof 127.0.0.1 "$(bp_sentinel_master_port)"
        bp_node_wait "$old"
    fi
done
drip_done() { ! kill -0 "$drip" 2>/dev/null; }
BP_WAIT_S=120 bp_wait_for drip_done || { cat "$BP_TMP/drip.log"; bp_fail "the Bull producer hung"; }
rc=0; wait "$drip" || rc=$?
[ "$rc" -eq 0 ] || { cat "$BP_TMP/drip.log"; bp_fail "the Bull producer failed (exit $rc)"; }
cat "$BP_TMP/drip.log"
# settled: everything added is completed or failed (a lost completion waits for the
# stalled check, up to two stalled intervals of 30 s)
refresh_master
BP_WAIT_S=100 bp_wait_for chaos_settled || true
twice=$(sort "$runs" | uniq -d | wc -l)
echo "run twice: $twice job(s) ($(wc -l <"$runs") runs for $(chaos_added) added)"
if [ "$acks" -gt 0 ] && [ "$mode" != graceful-unpaused ]; then
    chaos_report "$(chaos_stats_ms "${recov[@]}") | run twice $twice | replica_acks $acks"
else
    (chaos_report "$(chaos_stats_ms "${recov[@]}") | run twice $twice | replica_acks 0") || true
fi
chaos_pool_stop
if grep -E '\[(alert|crit)\]|exited with status 78' "$CHAOS_LOG"; then bp_fail "bad lines in the log"; fi
