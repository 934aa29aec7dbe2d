#!/usr/bin/env bash
# test_bull_to_bullpen.sh -- jobs added by Bull, run by bullpen's protocol, checked with
# Bull's API (bull_to_bullpen.js).
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_start interop
bp_node bull_to_bullpen.js || bp_fail "bull -> bullpen interop (see above)"
