// tests/interop/cron_expect.js CASES OUT -- expand tests/unit/data/cron_cases.json and write,
// one JSON object per line, what the pinned cron-parser (bull 4.16.5's dependency, from
// node_modules) returns for each: the next `steps` occurrences, each computed from the
// previous one with a fresh parseExpression() the way Bull's getNextMillis does, then either
// the message next() threw ("none") or, when parseExpression() threw, its message ("error").
// test_bp_cron.c reads OUT and checks bullpen's evaluator against every row.
'use strict';
const fs = require('fs');
const parser = require('cron-parser');

const [casesPath, outPath] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
const rows = [];

for (const g of cases.groups) {
    for (const cron of g.exprs)
        for (const tz of g.zones)
            for (const start of g.starts)
                rows.push({ cron, tz, from: start, steps: g.steps });
}
rows.push(...cases.cases);

const out = [];
for (const c of rows) {
    const row = { cron: c.cron, from: Date.parse(c.from), next: [] };
    for (const k of ['tz', 'utc', 'startDate', 'endDate'])
        if (c[k] !== undefined && c[k] !== null)
            row[k] = c[k];
    if (c.tz === null)
        row.tz = null; // the local zone
    let current = row.from;
    for (let i = 0; i < c.steps; i++) {
        const options = { currentDate: new Date(current) };
        for (const k of ['tz', 'utc', 'startDate', 'endDate'])
            if (row[k] !== undefined && row[k] !== null)
                options[k] = row[k];
        let interval;
        try {
            interval = parser.parseExpression(c.cron, options);
        } catch (e) {
            row.error = e.message;
            break;
        }
        try {
            current = interval.next().getTime();
        } catch (e) {
            row.none = e.message;
            break;
        }
        row.next.push(current);
    }
    out.push(JSON.stringify(row));
}
fs.writeFileSync(outPath, out.join('\n') + '\n');
process.stderr.write(`cron_expect: ${out.length} rows written to ${outPath}\n`);
