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

# bullpen stats: counts from Bull's keys, workers from the masters' heartbeat keys
if [ -n "${BP_ENQUEUE:-}" ]; then
    json=$("$BULLPEN_BIN" stats -c "$BP_CONF" --json) || bp_fail "bullpen stats --json failed"
    echo "$json" | node -e '
        const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const want = {waiting: 0, active: 0, completed: 5, failed: 0, delayed: 0, paused: 0, limited: 0};
        require("assert").deepStrictEqual(d, {queues: {tobull: want}, masters: [], workers: []});' ||
        bp_fail "stats --json shape: $json"
    bp_rcli SET bullpen:control:host:h1 '{"host":"h1","pid":7,"workers":[{"host":"h1","pid":8,"queue":"tobull","state":"busy","job":"12","jobs_done":3,"rss_kb":900}]}' PX 60000 >/dev/null
    bp_rcli SET bullpen:control:host:h2:99 '{"host":"h2","pid":99,"workers":[{"host":"h2","pid":100,"queue":"tobull","state":"idle","job":null,"jobs_done":0,"rss_kb":800}]}' PX 60000 >/dev/null
    json=$("$BULLPEN_BIN" stats -c "$BP_CONF" -q tobull --json) || bp_fail "bullpen stats -q failed"
    echo "$json" | node -e '
        const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const pids = d.workers.map((w) => w.pid).sort();
        require("assert").deepStrictEqual(pids, [100, 8]);' || bp_fail "stats workers: $json"
    table=$("$BULLPEN_BIN" stats -c "$BP_CONF") || bp_fail "bullpen stats (table) failed"
    echo "$table" | grep -Eq '^tobull +0 +0 +5 +0 +0 +0 +0$' || bp_fail "stats table: $table"
    echo "$table" | grep -q '^2 workers' || bp_fail "stats table workers: $table"
    "$BULLPEN_BIN" stats -c "$BP_CONF" -q nosuch >/dev/null 2>&1
    [ $? = 64 ] || bp_fail "stats of an unknown queue should exit 64"
fi
echo "ok: enqueue/stats"
