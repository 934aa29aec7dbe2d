# tests/support/topology.sh -- sourced after tests/support/redis.sh: a Sentinel topology
# (1 master + 2 replicas + 3 sentinels) or a Redis Cluster (3 masters + 3 replicas), every
# process a real redis-server over TLS on free loopback ports with the generated
# certificates (TLS replication, TLS cluster bus), every one stopped by pid on exit.
#
#   bp_sentinel_start                # BP_DATA_PORTS (master first) BP_SENTINEL_PORTS BP_DATA_PIDS
#   bp_sentinel_master_port          # the port the sentinels name as master now
#   bp_sentinel_conf_group           # the redis.sentinel = { ... } text for bullpen.conf
#   bp_cluster_start                 # BP_CLUSTER_PORTS BP_CLUSTER_PIDS (index i = port i)
#   bp_cli_port PORT ARGS...         # redis-cli over TLS to one node
#   bp_pid_of_port PORT              # the pid of the redis-server on PORT
#
# Nodes present client.crt when they dial each other (the cluster bus always asks for a
# client certificate; server.crt is for serverAuth only); repl-diskless-sync-delay 0 (default
# 5 s) so replicas are in sync before a test kills anything. Sentinel timing: down-after-milliseconds 2000 and failover-timeout 20000 (defaults 30 s
# and 180 s) so a test sees a failover within seconds (1000 and 5000 made the sentinels fail
# over a second time on a loaded machine, losing acknowledged writes); the pool's own settings
# stay Bull's.
set -u
BP_MASTER_NAME=${BP_MASTER_NAME:-mymaster}
BP_DATA_PORTS=()
BP_DATA_PIDS=()
BP_SENTINEL_PORTS=()
BP_CLUSTER_PORTS=()
BP_CLUSTER_PIDS=()
declare -A BP_PORT_PID=()

bp_cli_port() {
    local port=$1
    shift
    redis-cli --tls --cacert "$BP_CERTS/ca.crt" -h 127.0.0.1 -p "$port" "$@"
}

bp_pid_of_port() { echo "${BP_PORT_PID[$1]:-}"; }

# bp_node_start DIR PORT [args...]: one redis-server (or sentinel with --sentinel) over TLS.
bp_node_start() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    redis-server "$@" --port 0 --tls-port "$port" --bind 127.0.0.1 \
        --tls-cert-file "$BP_CERTS/server.crt" --tls-key-file "$BP_CERTS/server.key" \
        --tls-ca-cert-file "$BP_CERTS/ca.crt" --tls-auth-clients no --tls-replication yes \
        --tls-client-cert-file "$BP_CERTS/client.crt" --tls-client-key-file "$BP_CERTS/client.key" \
        --repl-diskless-sync-delay 0 \
        --save '' --appendonly no --dir "$dir" --daemonize no --logfile "$dir/redis.log" &
    BP_PORT_PID[$port]=$!
    bp_track_pid $!
}

bp_node_wait() {
    local port=$1
    for _ in $(seq 1 100); do
        if bp_cli_port "$port" PING 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.05
    done
    bp_fail "redis node on 127.0.0.1:$port did not start"
}

bp_sentinel_start() {
    [ -f "$BP_CERTS/ca.crt" ] || bash "$BP_SOURCE_DIR/scripts/gen-test-certs.sh" "$BP_CERTS"
    local i port mport
    for i in 0 1 2; do BP_DATA_PORTS+=("$(bp_free_port)"); done
    mport=${BP_DATA_PORTS[0]}
    bp_node_start "$BP_TMP/data0" "$mport"
    bp_node_wait "$mport"
    for i in 1 2; do
        port=${BP_DATA_PORTS[$i]}
        bp_node_start "$BP_TMP/data$i" "$port" --replicaof 127.0.0.1 "$mport"
    done
    for i in 0 1 2; do BP_DATA_PIDS+=("$(bp_pid_of_port "${BP_DATA_PORTS[$i]}")"); done
    for i in 1 2; do bp_node_wait "${BP_DATA_PORTS[$i]}"; done
    # replicas in sync before the sentinels look (a failover needs a replica that has data)
    synced() { [ "$(bp_cli_port "$mport" INFO replication | grep -c 'state=online')" -eq 2 ]; }
    BP_WAIT_S=20 bp_wait_for synced || bp_fail "replicas did not sync with the master"
    for i in 0 1 2; do
        port=$(bp_free_port)
        BP_SENTINEL_PORTS+=("$port")
        mkdir -p "$BP_TMP/sentinel$i"
        cat >"$BP_TMP/sentinel$i/sentinel.conf" <<CONF
sentinel monitor $BP_MASTER_NAME 127.0.0.1 $mport 2
sentinel down-after-milliseconds $BP_MASTER_NAME 2000
sentinel failover-timeout $BP_MASTER_NAME 20000
sentinel parallel-syncs $BP_MASTER_NAME 1
CONF
        bp_node_start "$BP_TMP/sentinel$i" "$port" "$BP_TMP/sentinel$i/sentinel.conf" --sentinel
    done
    for port in "${BP_SENTINEL_PORTS[@]}"; do bp_node_wait "$port"; done
    # each sentinel must know the other two and both replicas before a failover can happen
    known() {
        local p
        for p in "${BP_SENTINEL_PORTS[@]}"; do
            bp_cli_port "$p" SENTINEL MASTER "$BP_MASTER_NAME" | tr '\n' ' ' |
                grep -q 'num-other-sentinels 2 .*num-slaves 2\|num-slaves 2 .*num-other-sentinels 2' || return 1
        done
    }
    BP_WAIT_S=30 bp_wait_for known || {
        bp_cli_port "${BP_SENTINEL_PORTS[0]}" SENTINEL MASTER "$BP_MASTER_NAME" >&2
        bp_fail "the sentinels did not discover each other and the replicas"
    }
}

bp_sentinel_master_port() {
    bp_cli_port "${BP_SENTINEL_PORTS[0]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$BP_MASTER_NAME" | sed -n 2p
}

bp_sentinel_conf_group() {
    local nodes="" p
    for p in "${BP_SENTINEL_PORTS[@]}"; do nodes="$nodes${nodes:+, }\"127.0.0.1:$p\""; done
    echo "sentinel = { master_name = \"$BP_MASTER_NAME\"; nodes = [ $nodes ]; password_file = \"\"; };"
}

# bp_cluster_start: 6 nodes, cluster-enabled, TLS on the cluster bus, 3 masters + 3 replicas.
bp_cluster_start() {
    [ -f "$BP_CERTS/ca.crt" ] || bash "$BP_SOURCE_DIR/scripts/gen-test-certs.sh" "$BP_CERTS"
    local i port hosts=()
    for i in 0 1 2 3 4 5; do
        port=$(bp_free_port)
        # the cluster bus listens on port + 10000: both must be free
        while [ "$port" -gt 55000 ] || ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $port + 10000))" 2>/dev/null; do
            port=$(bp_free_port)
        done
        BP_CLUSTER_PORTS+=("$port")
        bp_node_start "$BP_TMP/cluster$i" "$port" --cluster-enabled yes --tls-cluster yes \
            --cluster-config-file "$BP_TMP/cluster$i/nodes.conf" --cluster-node-timeout 2000
        BP_CLUSTER_PIDS+=("$(bp_pid_of_port "$port")")
        hosts+=("127.0.0.1:$port")
    done
    for port in "${BP_CLUSTER_PORTS[@]}"; do bp_node_wait "$port"; done
    bp_cli_port "${BP_CLUSTER_PORTS[0]}" --cluster create "${hosts[@]}" --cluster-replicas 1 \
        --cluster-yes >"$BP_TMP/cluster-create.log" 2>&1 ||
        { cat "$BP_TMP/cluster-create.log" >&2; bp_fail "redis-cli --cluster create failed"; }
    ok() {
        local p
        for p in "${BP_CLUSTER_PORTS[@]}"; do
            bp_cli_port "$p" CLUSTER INFO | grep -q 'cluster_state:ok' || return 1
        done
    }
    BP_WAIT_S=30 bp_wait_for ok || bp_fail "the cluster did not reach cluster_state:ok"
    # every replica in sync: a replica that never synced refuses to be promoted
    synced() {
        local p
        for p in "${BP_CLUSTER_PORTS[@]}"; do
            bp_cli_port "$p" INFO replication | grep -q 'role:master' && continue
            bp_cli_port "$p" INFO replication | grep -q 'master_link_status:up' || return 1
        done
    }
    BP_WAIT_S=30 bp_wait_for synced || bp_fail "the cluster's replicas did not sync"
}
