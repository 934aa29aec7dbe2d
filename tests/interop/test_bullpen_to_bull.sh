#!/usr/bin/env bash
# test_bullpen_to_bull.sh -- jobs added by bullpen are run by a stock Bull worker
# (bullpen_to_bull.js). Uses `bullpen enqueue` once the binary has the command (detected by
# its answer to bad JSON: 65 and a message naming the argument), else the probe's add.
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_start tobull
if [ -x "${BULLPEN_BIN:-}" ]; then
    out=$("$BULLPEN_BIN" enqueue -c "$BP_CONF" -q tobull echo '{"a":' 2>&1)
    rc=$?
    if [ $rc = 65 ]; then
        echo "$out" | grep -q "line 1 column" || bp_fail "bad JSON message lacks the position: $out"
        out=$("$BULLPEN_BIN" enqueue -c "$BP_CONF" -q tobull echo '{}' --opts '{"attempts":}' 2>&1)
        [ $? = 65 ] && echo "$out" | grep -q -- "--opts" || bp_fail "bad --opts: $out"
        export BP_ENQUEUE=$BULLPEN_BIN
    else
        echo "note: $BULLPEN_BIN has no enqueue yet (exit $rc); using the probe's add"
    fi
fi
bp_node bullpen_to_bull.js || bp_fail "bullpen -> bull interop (see above)"
