// tests/interop/cron_repeat.js -- cron (and every) repeatable jobs under Bull's own worker and
// under bullpen, compared key by key (test_cron_repeat.sh drives it).
//
//   node cron_repeat.js run QUEUE OUT [--bull]   add the variants with Bull's producer, then
//       activate their occurrences one at a time (promote the delayed one, wait until it has
//       completed, which is after the worker added the next occurrence) and dump the queue's
//       keys to OUT. With --bull a Bull worker in this process does the work; without it,
//       bullpen (already running on QUEUE) does.
//   node cron_repeat.js compare A B               the two dumps must agree: repeat ZSET members
//       and scores, delayed ids and scores, the job id counter, completed order, every job
//       hash field (wall-clock fields only where both sides satisfy Bull's relations), and the
//       delayed/completed/failed events in order.
//   node cron_repeat.js refused QUEUE             bullpen only: a hand-written job whose cron
//       cron-parser rejects fails with cron-parser's message, and schedules nothing.
//
// Occurrences are activated one at a time because the delayed score's low bits come from the
// queue's id counter, so the order of adds must be the same on both sides. The variants start
// in the future (startDate) or from the first occurrence's prevMillis, so the next times do not
// depend on the wall clock. Run with the same TZ for both sides (the tz-less variant uses it).
'use strict';
const fs = require('fs');
const { assert, queue, until } = require('./lib');

// Every cron variant starts from a startDate in the future, so the first occurrence the
// producer computes does not depend on when the test runs; `every` is long for the same
// reason (its next boundary is 2027-01-15, and both occurrences stay below 2^53 / 4096 ms).
const variants = [
  // no tz: the process's local zone (TZ=America/New_York), across its DST start (2028-03-12
  // 02:30 does not exist); a startDate without offset is local time too
  {
    name: 'plain', data: { v: 1 },
    opts: { repeat: { cron: '30 2 * * *', startDate: '2028-03-11T00:00:00' } }, steps: 3,
  },
  // a custom jobId, across the New York DST start (2027-03-14 02:30 does not exist)
  {
    name: 'report', data: { v: 2 }, opts: {
      jobId: 'nightly',
      repeat: { cron: '30 2 * * *', tz: 'America/New_York', startDate: '2027-03-13T00:00:00Z' },
    }, steps: 3,
  },
  // seconds field, across the Berlin DST end, until endDate (a Date, stored as ISO text)
  {
    name: 'berlin', data: 'text', opts: {
      repeat: {
        cron: '0 30 2 * * *', tz: 'Europe/Berlin', startDate: new Date('2027-10-30T00:00:00Z'),
        endDate: new Date('2027-11-02T12:00:00Z'),
      },
    }, steps: 4,
  },
  // L with a limit: the fourth occurrence is never added
  {
    name: 'lastday', data: [1, 2], opts: {
      repeat: { cron: '0 0 L * *', tz: 'Australia/Sydney', limit: 3, startDate: 1830384000000 },
    }, steps: 3,
  },
  {
    name: 'nth', data: { n: 1 },
    opts: { repeat: { cron: '15 3 * * 0#2', tz: 'UTC', startDate: '2028-01-01' } }, steps: 2,
  },
  {
    name: 'feb29', data: {}, opts: {
      repeat: { cron: '0 12 29 2 *', tz: 'America/New_York', startDate: '2027-06-01T00:00:00Z' },
      attempts: 2,
    }, steps: 2,
  },
  { name: 'every', data: { e: 1 }, opts: { repeat: { every: 150000000000 } }, steps: 2 },
  // removed while its occurrence waits: the ZSCORE check stops the chain
  {
    name: 'removed', data: {},
    opts: { repeat: { cron: '0 4 * * *', startDate: '2028-01-01T00:00:00Z' } }, steps: 1,
    remove: true,
  },
];

// The events the occurrences cause, in order: `delayed` with the next due time from each add
// (integers; a promotion pass publishes score/4096, a fraction, and is left out: it follows
// the clock), `completed` and `failed` payloads.
async function listen(q) {
  const sub = q.client.duplicate();
  const base = `${q.keyPrefix}:${q.name}:`;
  const events = [];
  await sub.psubscribe(`${base}*`);
  sub.on('pmessage', (_, channel, msg) => {
    const what = channel.slice(base.length).replace(/@.*/, '');
    if ((what === 'delayed' && /^\d+$/.test(msg)) || what === 'completed' || what === 'failed')
      events.push([what, msg]);
  });
  return { sub, events };
}

async function run(qname, out, withBull) {
  const q = queue(qname);
  await q.isReady();
  if (withBull) q.process('*', async (job) => job.data);
  const { sub, events } = await listen(q);
  for (const v of variants) await q.add(v.name, v.data, v.opts);
  for (const v of variants) {
    for (let step = 0; step < v.steps; step++) {
      const delayed = (await q.getDelayed()).filter((j) => j.name === v.name);
      assert.strictEqual(delayed.length, 1, `${v.name} step ${step}: one delayed occurrence`);
      const job = delayed[0];
      // removeRepeatable's ZREM, without its deletion of the delayed occurrence
      if (v.remove) await q.client.zrem(`${q.keyPrefix}:${q.name}:repeat`, job.opts.repeat.key);
      await job.promote();
      await until(`${v.name} step ${step}: job ${job.id} done`, async () => {
        const state = await (await q.getJob(job.id)).getState();
        return state === 'completed' || state === 'failed';
      }, 30000);
    }
  }
  const steps = variants.reduce((n, v) => n + v.steps, 0);
  await until('every completed event', () => events.filter((e) => e[0] === 'completed').length >= steps);
  const d = await dump(q);
  d.events = events;
  fs.writeFileSync(out, JSON.stringify(d, null, 1));
  sub.disconnect();
  await q.close();
}

async function dump(q) {
  const c = q.client;
  const k = (s) => `${q.keyPrefix}:${q.name}:${s}`;
  const d = {
    repeat: await c.zrange(k('repeat'), 0, -1, 'WITHSCORES'),
    delayed: await c.zrange(k('delayed'), 0, -1, 'WITHSCORES'),
    completed: await c.zrange(k('completed'), 0, -1),
    failed: await c.zrange(k('failed'), 0, -1),
    wait: await c.lrange(k('wait'), 0, -1),
    active: await c.lrange(k('active'), 0, -1),
    id: await c.get(k('id')),
    jobs: {},
  };
  const ids = new Set([...d.completed, ...d.failed, ...d.wait]);
  for (let i = 0; i < d.delayed.length; i += 2) ids.add(d.delayed[i]);
  for (const id of ids) d.jobs[id] = await c.hgetall(k(id));
  return d;
}

// Bull's relations for the wall-clock parts of an occurrence it added: delay = next - now,
// timestamp = now, prevMillis = next; a promoted job has its hash delay set to 0.
function checkClock(side, id, h, delayedIds) {
  const o = JSON.parse(h.opts);
  if (o.prevMillis === undefined) return; // the producer's first occurrence
  assert.strictEqual(o.delay + o.timestamp, o.prevMillis, `${side} ${id}: delay + timestamp`);
  assert.strictEqual(Number(h.timestamp), o.timestamp, `${side} ${id}: hash timestamp`);
  const want = delayedIds.has(id) ? String(o.delay) : '0';
  assert.strictEqual(h.delay, want, `${side} ${id}: hash delay`);
}

function normalJob(h) {
  const n = { ...h };
  for (const f of ['timestamp', 'processedOn', 'finishedOn', 'delay']) n[f] = f in h;
  const o = JSON.parse(h.opts);
  delete o.timestamp;
  delete o.delay;
  n.opts = o;
  return n;
}

function compare(fa, fb) {
  const a = JSON.parse(fs.readFileSync(fa, 'utf8'));
  const b = JSON.parse(fs.readFileSync(fb, 'utf8'));
  // the run did something: every step of every variant completed
  const steps = variants.reduce((s, v) => s + v.steps, 0);
  assert.strictEqual(a.completed.length, steps, 'Bull completed every occurrence it was given');
  assert.ok(a.repeat.length >= 2 * (variants.length - 1), 'Bull kept the repeatables');
  assert.ok(a.events.filter((e) => e[0] === 'delayed').length > steps, 'Bull published the adds');
  for (const key of ['repeat', 'delayed', 'completed', 'failed', 'wait', 'active', 'id', 'events'])
    assert.deepStrictEqual(b[key], a[key], `${key} differs (bullpen vs Bull)`);
  assert.deepStrictEqual(Object.keys(b.jobs).sort(), Object.keys(a.jobs).sort(), 'job ids');
  for (const [side, d] of [['bull', a], ['bullpen', b]]) {
    const delayedIds = new Set(d.delayed.filter((_, i) => i % 2 === 0));
    for (const [id, h] of Object.entries(d.jobs)) checkClock(side, id, h, delayedIds);
  }
  const masked = (t) => t.replace(/"(delay|timestamp)":\d+/g, '"$1":N');
  for (const id of Object.keys(a.jobs)) {
    assert.deepStrictEqual(normalJob(b.jobs[id]), normalJob(a.jobs[id]), `job ${id} differs`);
    // and byte for byte, key order included, but for the two wall-clock numbers
    assert.strictEqual(masked(b.jobs[id].opts), masked(a.jobs[id].opts), `job ${id} opts text`);
  }
  const tz = a.repeat.filter((m, i) => i % 2 === 0 && m.split(':')[3]).length;
  console.log(`cron repeats: ${Object.keys(a.jobs).length} jobs, ${a.repeat.length / 2} ` +
    `repeatables (${tz} with tz), ${a.delayed.length / 2} delayed, ${a.events.length} ` +
    `events: bullpen == Bull`);
}

async function refused(qname) {
  const q = queue(qname);
  await q.isReady();
  const c = q.client;
  const k = (s) => `${q.keyPrefix}:${q.name}:${s}`;
  const before = await c.zcard(k('repeat'));
  // what Bull's producer refuses at add(): written by hand, as another producer might
  const cases = [
    ['bad-w', { cron: '0 0 15W * *' }, 'Invalid characters, got value: 15W'],
    ['bad-tz', { cron: '0 0 * * *', tz: 'Mars/Olympus' }, /^CronDate: unhandled timestamp: "/],
    ['bad-both', { cron: '0 0 * * *', every: 1000 },
      'Both .cron and .every options are defined for this repeatable job'],
  ];
  for (const [id, repeat, want] of cases) {
    await c.hset(k(id), 'name', id, 'data', '{}', 'opts', JSON.stringify({ repeat, attempts: 1 }),
      'timestamp', String(Date.now()), 'delay', '0', 'priority', '0');
    await c.lpush(k('wait'), id);
  }
  for (const [id, , want] of cases) {
    await until(`${id} failed`, async () => (await c.zscore(k('failed'), id)) !== null, 30000);
    const reason = await c.hget(k(id), 'failedReason');
    if (want instanceof RegExp) assert.match(reason, want, id);
    else assert.strictEqual(reason, want, id);
  }
  assert.strictEqual(await c.zcard(k('repeat')), before, 'a refused repeat schedules nothing');
  console.log(`refused repeats: ${cases.length} jobs failed with cron-parser's reasons`);
  await q.close();
}

(async () => {
  const [cmd, a1, a2, flag] = process.argv.slice(2);
  if (cmd === 'run') await run(a1, a2, flag === '--bull');
  else if (cmd === 'compare') compare(a1, a2);
  else if (cmd === 'refused') await refused(a1);
  else throw new Error(`usage: cron_repeat.js run|compare|refused ...`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
