#!/usr/bin/env bash
# test_recover_exact.sh on a Redis Cluster (3 masters + 3 replicas over TLS): both workers
# SIGKILLed mid-job, every job completed with stalledCounter 1, and every death's CLIENT
# KILL ID sent to the node that numbered the dead worker's connections (its queue's node).
set -euo pipefail
export BP_TOPOLOGY=cluster
exec bash "$BP_SOURCE_DIR/tests/integration/test_recover_exact.sh"
