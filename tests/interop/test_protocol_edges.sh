#!/usr/bin/env bash
# test_protocol_edges.sh -- vanished jobs, pause/resume, stalled checker texts, dead-worker
# recovery and timeout failure by token, lost locks (protocol_edges.js).
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_start edges
bp_node protocol_edges.js || bp_fail "protocol edges (see above)"
