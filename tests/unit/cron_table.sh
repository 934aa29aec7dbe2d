#!/usr/bin/env bash
# tests/unit/cron_table.sh OUT -- the ctest fixture of unit/test_bp_cron: write the expected
# cron next times for tests/unit/data/cron_cases.json to OUT with the pinned bull's own
# cron-parser (tests/interop/node_modules, from package-lock.json; npm ci runs once if it is
# missing). Fails, rather than skipping, without Node: the cron evaluator has no other oracle.
set -euo pipefail
out=$1
src=${BP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
interop=$src/tests/interop
command -v node >/dev/null || { echo "cron_table: node is not installed (scripts/deps)" >&2; exit 1; }
(
    flock 9
    [ -d "$interop/node_modules/cron-parser" ] ||
        (cd "$interop" && npm ci --silent --no-audit --no-fund)
) 9>"${TMPDIR:-/tmp}/bullpen-interop-npm.lock"
version=$(node -p "require('$interop/node_modules/cron-parser/package.json').version")
[ "$version" = 4.9.0 ] || { echo "cron_table: cron-parser $version, expected 4.9.0 (bull 4.16.5's)" >&2; exit 1; }
rm -f "$out"
(cd "$interop" && node cron_expect.js "$src/tests/unit/data/cron_cases.json" "$out")
