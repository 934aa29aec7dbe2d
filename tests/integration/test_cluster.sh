#!/usr/bin/env bash
# A pool on Redis Cluster (3 masters + 3 replicas, TLS clients, TLS replication and TLS
# cluster bus on loopback): a prefix without a hash tag refused with the reason and the
# fix; `bullpen check` shows the slot map and each queue's master; three queues on three
# shards worked at once (heartbeats cross nodes over pub/sub: no worker is killed); a kill
# -9 of one master (the cluster promotes its replica) and a graceful CLUSTER FAILOVER of
# another, with jobs enqueued after each completed and no crash loop.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
. "$BP_SOURCE_DIR/tests/support/topology.sh"
bp_cluster_start
seed=${BP_CLUSTER_PORTS[0]}

# one hash tag per master: tag -> slot -> the master serving it now
declare -A TAG_OF_MASTER=()
master_of_slot() {
    bp_cli_port "$seed" CLUSTER SLOTS | awk -v s="$1" '
        NR % 1 == 0 { a[NR] = $0 } END {
            for (i = 1; i <= NR; i++) if (a[i] ~ /^[0-9]+$/ && a[i + 1] ~ /^[0-9]+$/ &&
                a[i] + 0 <= s && s <= a[i + 1] + 0 && a[i + 2] == "127.0.0.1") { print a[i + 3]; exit }
        }'
}
for t in $(seq 0 200); do
    slot=$(bp_cli_port "$seed" CLUSTER KEYSLOT "{q$t}")
    m=$(master_of_slot "$slot")
    [ -n "$m" ] && [ -z "${TAG_OF_MASTER[$m]:-}" ] && TAG_OF_MASTER[$m]="q$t"
    [ "${#TAG_OF_MASTER[@]}" -eq 3 ] && break
done
[ "${#TAG_OF_MASTER[@]}" -eq 3 ] || bp_fail "could not find a hash tag per master"
tags=("${TAG_OF_MASTER[@]}")
echo "ok: tags ${tags[*]} land on masters ${!TAG_OF_MASTER[*]}"

# hung_after_ms stays at its default (10 s): the workers of a shard whose master dies
# publish no heartbeat until the replica is promoted (node timeout 2 s + election), while
# the master's own connections may be on a healthy shard and keep judging them.
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
write_conf() { # write_conf QUEUES [URL]
    local nodes="\"127.0.0.1:$seed\", \"127.0.0.1:${BP_CLUSTER_PORTS[1]}\""
    cat >"$conf" <<CONF
redis = {
  url = "${2:-rediss://not-used.invalid/0}";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
  cluster = { nodes = [ $nodes ]; };
};
pool = { heartbeat_ms = 200; shutdown_timeout_ms = 5000; };
queues = ( $1 );
CONF
}
queue() { echo "{ name = \"$1\"; prefix = \"$2\"; workers = 1; handlers = ( { job = \"*\"; type = \"echo\"; } ); }"; }

# ---- refusals
write_conf "$(queue plain bull)"
out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) && bp_fail "a prefix without a hash tag was accepted"
echo "$out" | grep -q "queues\[0\].prefix: \"bull\" (queue 'plain') has no hash tag.*must share a slot.*prefix = \"{bull}\"" ||
    { echo "$out"; bp_fail "no reason and fix for a prefix without a hash tag"; }
"$BULLPEN_BIN" run -c "$conf" >/dev/null 2>&1 && bp_fail "run accepted a prefix without a hash tag"
write_conf "$(queue plain '{bull}')" "rediss://x/3"
out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) && bp_fail "db 3 on a cluster was accepted"
echo "$out" | grep -q "only database 0" || { echo "$out"; bp_fail "no reason for db 3 on a cluster"; }
echo "ok: prefix without hash tag and db != 0 refused with the reason and the fix"

# ---- check and the pool: three queues, one per shard
write_conf "$(queue qa "{${tags[0]}}"), $(queue qb "{${tags[1]}}"), $(queue qc "{${tags[2]}}")"
out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) || { echo "$out"; bp_fail "check failed on a healthy cluster"; }
echo "$out" | grep -q "cluster: all 16384 slots served by 3 masters" || { echo "$out"; bp_fail "no slot map line"; }
[ "$(echo "$out" | grep "^ok      queue 'q[abc]': keys like" | sed 's/.*on master //' | sort -u | wc -l)" -eq 3 ] ||
    { echo "$out"; bp_fail "check does not show three queues on three masters"; }
echo "ok: check shows the slot map and each queue on its own master"

"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 3 workers on 3 queues' "$log" || { cat "$log"; bp_fail "pool not ready"; }
completed() { bp_cli_port "$seed" -c ZCARD "{$2}:$1:completed"; }
all_completed() { # all_completed N: every queue has N completed jobs
    local i q=(qa qb qc)
    for i in 0 1 2; do [ "$(completed "${q[$i]}" "${tags[$i]}")" -eq "$1" ] || return 1; done
}
# what a failed wait shows: each queue's counts where the cluster says its slot is, the
# slot map, and the pool's log since the failover (a flake once in five full runs here,
# stop 20: "jobs after the kill -9 failover not completed", not reproduced in 24 runs)
diagnose() {
    local i q=(qa qb qc) m
    for i in 0 1 2; do
        m=$(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[$i]}}")")
        echo "${q[$i]} on master $m: wait $(bp_cli_port "$seed" -c LLEN "{${tags[$i]}}:${q[$i]}:wait")" \
            "active $(bp_cli_port "$seed" -c LLEN "{${tags[$i]}}:${q[$i]}:active")" \
            "completed $(completed "${q[$i]}" "${tags[$i]}")" \
            "failed $(bp_cli_port "$seed" -c ZCARD "{${tags[$i]}}:${q[$i]}:failed")" \
            "delayed $(bp_cli_port "$seed" -c ZCARD "{${tags[$i]}}:${q[$i]}:delayed")" \
            "paused $(bp_cli_port "$seed" -c LLEN "{${tags[$i]}}:${q[$i]}:paused")" \
            "id counter $(bp_cli_port "$seed" -c GET "{${tags[$i]}}:${q[$i]}:id")" \
            "blocked clients $(bp_cli_port "$m" INFO clients | grep -o 'blocked_clients:[0-9]*')"
        grep "^${q[$i]} " "$BP_TMP/enqueued" | while read -r _ id; do
            echo "  job $id: $(bp_cli_port "$seed" -c HMGET "{${tags[$i]}}:${q[$i]}:$id" timestamp processedOn finishedOn failedReason | tr '\n' ' ')"
        done
    done
    bp_cli_port "$seed" CLUSTER NODES || true
    tail -40 "$log"
}
enqueue_all() {
    local q id
    for q in qa qb qc; do
        for _ in $(seq 1 "$1"); do
            id=$("$BULLPEN_BIN" enqueue -c "$conf" -q "$q" echo '{"x":1}') # fails the test
            echo "$q $id" >>"$BP_TMP/enqueued"
        done
    done
}
enqueue_all 3
BP_WAIT_S=20 bp_wait_for all_completed 3 || { tail -20 "$log"; bp_fail "jobs of three queues not completed"; }
echo "ok: 3 queues on 3 shards, 3 jobs each completed"

# ---- kill -9 the master of qa's shard: its replica is promoted, the pool follows
victim=$(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[0]}}")")
[ "$victim" != "$seed" ] || seed=${BP_CLUSTER_PORTS[1]} # ask a live node from now on
[ "$victim" != "$seed" ] || seed=${BP_CLUSTER_PORTS[2]}
t0=$(date +%s%N)
kill -9 "$(bp_pid_of_port "$victim")"
promoted() {
    local m
    m=$(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[0]}}")")
    [ -n "$m" ] && [ "$m" != "$victim" ] && bp_cli_port "$seed" CLUSTER INFO | grep -q cluster_state:ok
}
BP_WAIT_S=40 bp_wait_for promoted || bp_fail "the cluster did not promote a replica of $victim"
echo "ok: kill -9 master $victim -> replica $(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[0]}}")") promoted after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
enqueue_all 3
BP_WAIT_S=40 bp_wait_for all_completed 6 || { diagnose; bp_fail "jobs after the kill -9 failover not completed"; }
echo "ok: 3 more jobs per queue completed after the kill -9 failover ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill)"

# ---- graceful CLUSTER FAILOVER: a replica of qb's master takes over
old=$(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[1]}}")")
old_id=$(bp_cli_port "$old" CLUSTER MYID)
replica=""
for p in "${BP_CLUSTER_PORTS[@]}"; do
    [ "$p" = "$victim" ] && continue
    if bp_cli_port "$p" ROLE 2>/dev/null | head -1 | grep -q slave &&
        bp_cli_port "$p" CLUSTER NODES | grep myself | grep -q "$old_id"; then replica=$p; fi
done
[ -n "$replica" ] || bp_fail "no replica of $old found"
bp_cli_port "$replica" CLUSTER FAILOVER | grep -q OK || bp_fail "CLUSTER FAILOVER refused"
took_over() { [ "$(master_of_slot "$(bp_cli_port "$seed" CLUSTER KEYSLOT "{${tags[1]}}")")" = "$replica" ]; }
BP_WAIT_S=30 bp_wait_for took_over || bp_fail "replica $replica did not take over from $old"
enqueue_all 3
BP_WAIT_S=40 bp_wait_for all_completed 9 || { diagnose; bp_fail "jobs after CLUSTER FAILOVER not completed"; }
echo "ok: CLUSTER FAILOVER $old -> $replica: 3 more jobs per queue completed"

# no crash loop, no health kill (heartbeats crossed nodes), nothing alarming
[ "$(pgrep -P "$master" | wc -l)" -eq 3 ] || bp_fail "worker count changed"
if grep -E '\[(alert|crit)\]|Sanitizer|exited with status 78|killing it' "$log"; then bp_fail "bad lines in the log"; fi
kill -TERM "$master"
BP_WAIT_S=15 bp_wait_for bash -c "! kill -0 $master" || bp_fail "master did not stop"
echo "ok: cluster test passed"
