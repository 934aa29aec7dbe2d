#!/usr/bin/env bash
# test_bull_to_pool.sh -- jobs added by Bull, run by a real `bullpen run` pool (two workers,
# master housekeeping for delays and backoff), checked with Bull's API (bull_to_bullpen.js
# with BP_RUNNER=pool).
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_start poolq
bp_pool_start
BP_RUNNER=pool bp_node bull_to_bullpen.js || { tail -50 "$BP_POOL_LOG" >&2; bp_fail "bull -> bullpen pool (see above)"; }
bp_pool_check_log
