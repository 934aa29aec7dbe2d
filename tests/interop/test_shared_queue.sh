#!/usr/bin/env bash
# test_shared_queue.sh -- a Bull worker and bullpen's protocol serve one queue at the same
# time (shared_queue.js).
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_start shared
bp_node shared_queue.js || bp_fail "shared queue (see above)"
