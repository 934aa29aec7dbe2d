#!/usr/bin/env bash
# test_cron_repeat.sh -- cron and every repeatable jobs (with and without tz, jobId, startDate,
# endDate, limit, a removed repeatable) run once under Bull's own worker (queue cron-a) and
# once under bullpen (queue cron-b) on the same redis; the resulting keys must agree
# (cron_repeat.js). Then bullpen fails hand-written jobs whose repeat cron-parser rejects.
# Both sides run with TZ=America/New_York: the variant without tz uses the local zone.
set -u
. "$(dirname "$0")/setup.sh"
export TZ=America/New_York
bp_interop_start cron-b
bp_node cron_repeat.js run cron-a "$BP_TMP/bull.json" --bull || bp_fail "the Bull side (see above)"
bp_pool_start
bp_node cron_repeat.js run cron-b "$BP_TMP/bullpen.json" || bp_fail "the bullpen side (see above)"
bp_node cron_repeat.js compare "$BP_TMP/bull.json" "$BP_TMP/bullpen.json" ||
    bp_fail "bullpen's cron repeats differ from Bull's (see above)"
bp_node cron_repeat.js refused cron-b || bp_fail "refused repeats (see above)"
bp_pool_check_log
