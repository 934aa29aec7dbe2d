#!/usr/bin/env bash
# test_failover_sentinel.sh with the README's planned switchover (CLIENT PAUSE WRITE on the
# old master, SENTINEL FAILOVER, CLIENT UNPAUSE once the sentinels have demoted it) and
# replica_acks 1: no job lost, none run twice, none stuck.
set -euo pipefail
export BP_FAILOVER=graceful BP_REPLICA_ACKS=${BP_REPLICA_ACKS:-1}
exec bash "$BP_SOURCE_DIR/tests/chaos/test_failover_sentinel.sh"
