#!/usr/bin/env bash
# test_failover_sentinel.sh with the README's planned switchover (CLIENT PAUSE WRITE on the
# old master, SENTINEL FAILOVER, REPLICAOF by hand, CLIENT KILL TYPE normal, CLIENT UNPAUSE)
# and replica_acks 1: a handover the operator plans must cost no job, no rerun and nothing
# stuck, with Bull's producer (ioredis in sentinel mode) adding jobs throughout.
set -euo pipefail
export BP_FAILOVER=graceful BP_REPLICA_ACKS=1
exec bash "$BP_SOURCE_DIR/tests/chaos/test_failover_sentinel.sh"
