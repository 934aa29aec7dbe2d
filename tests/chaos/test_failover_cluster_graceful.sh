#!/usr/bin/env bash
# test_failover_cluster.sh with a graceful CLUSTER FAILOVER and replica_acks 0 (the
# default): a coordinated handover must cost no job, no rerun and nothing stuck, without
# the replica-acknowledged setting.
set -euo pipefail
export BP_FAILOVER=graceful BP_REPLICA_ACKS=0
exec bash "$BP_SOURCE_DIR/tests/chaos/test_failover_cluster.sh"
