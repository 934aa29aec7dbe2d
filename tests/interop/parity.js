// tests/interop/parity.js -- Bull's worker and bullpen, side by side on one Redis, for the
// worker settings that live in Redis scripts: the rate limiter (with and without groupKey),
// metrics, job logs; and an unknown backoff type.
//
//   node parity.js bull      run Bull's worker on the *-bull queues, record what it left in
//                            $BP_STATE, and add the same jobs to the *-bp queues
//   node parity.js bullpen   (a bullpen pool serves the *-bp queues) wait for the same
//                            state, then compare it with the record
//
// Comparisons are of keys, fields, counters, members, orders and counts; the only numbers
// derived from time are parked-job due times relative to each other (exact arithmetic of
// the limiter's formula) and metrics points recomputed from each run's own finishedOn.
'use strict';
const fs = require('fs');
const Queue = require('bull');
const bullScripts = require('bull/lib/scripts');
const { assert, probe, until, env } = require('./lib');

const redis = () => ({
  host: '127.0.0.1',
  port: Number(env('BP_TLS_PORT')),
  tls: { ca: fs.readFileSync(`${env('BP_CERTS')}/ca.crt`), servername: 'localhost' },
});
const mk = (name, opts = {}) => new Queue(name, { redis: redis(), ...opts });
const WINDOW = 60000;

// everything a queue's limiter left, with the queue name taken out of key names
async function limiterState(q, jobIds) {
  const c = q.client;
  const base = `bull:${q.name}:`;
  const strip = (s) => s.split(base).join('K:');
  const pos = (id) => jobIds.indexOf(id);
  const keys = (await c.keys(`${base}limiter*`)).map(strip).sort();
  const counters = {};
  const sets = {};
  for (const k of keys) {
    const full = base + k.slice(2);
    const type = await c.type(full);
    if (type === 'string') {
      counters[k] = await c.get(full);
      assert.ok((await c.pttl(full)) > 0, `${k} has an expiry`);
    } else if (type === 'set') {
      sets[k] = (await c.smembers(full)).map(pos).sort((a, b) => a - b);
    }
  }
  const index = await c.hgetall(`${base}limiter:index`);
  const indexed = Object.keys(index).map((id) => [pos(id), strip(index[id])]).sort((a, b) => a[0] - b[0]);
  const delayed = await c.zrange(`${base}delayed`, 0, -1, 'WITHSCORES');
  const parked = [];
  for (let i = 0; i < delayed.length; i += 2) parked.push({ pos: pos(delayed[i]), score: Number(delayed[i + 1]) });
  const completed = (await c.zrange(`${base}completed`, 0, -1)).map(pos).sort((a, b) => a - b);
  return {
    keys, counters, sets, indexed, completed,
    parked: parked.map((p) => ({ pos: p.pos, low: Math.round(p.score % 4096), due: p.score / 4096 })),
    counts: await q.getJobCounts(),
  };
}

// per limiter group (groupOf(pos)): the parked jobs in due order, their low score bits (the
// limiter's counter) and how many slots of 1.1 x duration / max each waits after the
// group's first. Groups' windows start at different ms, so only orders within a group are
// fixed. Due times differ by the ms between reading the clock and running the script (on
// either side), hence slots, not milliseconds.
function parkedByGroup(st, groupOf, max) {
  const slot = (1.1 * WINDOW) / max;
  const out = {};
  for (const p of st.parked) (out[groupOf(p.pos)] = out[groupOf(p.pos)] || []).push(p);
  for (const g of Object.keys(out)) {
    const first = out[g][0].due;
    out[g] = out[g].map((p) => ({ pos: p.pos, low: p.low, slots: Math.round((p.due - first) / slot) }));
  }
  return out;
}

// exact: the same jobs (by add order) ran and were parked; otherwise the same numbers of
// them (two workers may take two jobs in either order: the pull and the take are two steps,
// in Bull as in bullpen)
function sameLimiter(what, bull, bp, groupOf, max, exact) {
  if (!exact) {
    const blur = (st) => ({ ...st,
      sets: Object.fromEntries(Object.entries(st.sets).map(([k, v]) => [k, v.length])),
      indexed: st.indexed.map((e) => e[1]), completed: st.completed.length,
      parked: st.parked.map((p) => ({ ...p, pos: 0 })) });
    bull = blur(bull);
    bp = blur(bp);
  }
  for (const k of ['keys', 'counters', 'sets', 'indexed', 'completed', 'counts']) {
    assert.deepStrictEqual(bp[k], bull[k], `${what}: ${k} differs: bullpen ${JSON.stringify(bp[k])} Bull ${JSON.stringify(bull[k])}`);
  }
  const a = parkedByGroup(bp, groupOf, max);
  const b = parkedByGroup(bull, groupOf, max);
  assert.deepStrictEqual(a, b, `${what}: parked jobs: bullpen ${JSON.stringify(a)} Bull ${JSON.stringify(b)}`);
  console.log(`${what}: same as Bull: ${JSON.stringify(bp.counters)}, limited ${JSON.stringify(bp.sets)}, parked ${JSON.stringify(a)}`);
}

// Bull's collectMetrics replayed over finish times: what metrics:<kind> must hold
function replayMetrics(seed, finishes, maxPoints) {
  let { count, prevTS, prevCount } = seed;
  const data = [];
  for (const ts of finishes) {
    const before = count;
    count += 1;
    if (prevTS === null) { prevTS = ts; prevCount = 0; continue; }
    const n = Math.min(Math.floor(ts / 60000) - Math.floor(prevTS / 60000), maxPoints);
    if (n > 0) {
      const pts = [before - prevCount];
      for (let i = 1; i < n; i++) pts.push(0);
      for (const p of pts) data.unshift(String(p));
      data.splice(maxPoints);
      prevCount = before;
      prevTS = ts;
    }
  }
  return { meta: { count, prevTS: prevTS || 0, prevCount: prevCount || 0 }, data: data.slice(), count: data.length };
}

async function seedMetrics(q, kind, minutesAgo) {
  // a previous point minutesAgo minutes back, so the first finish pushes that many points
  const ts = Date.now() - minutesAgo * 60000;
  await q.client.hset(`bull:${q.name}:metrics:${kind}`, 'count', 3, 'prevTS', ts, 'prevCount', 1);
  return { count: 3, prevTS: ts, prevCount: 1 };
}

async function metricsCheck(q, kind, seed, maxPoints) {
  const ids = await q.client.zrange(`bull:${q.name}:${kind}`, 0, -1);
  const fin = [];
  for (const id of ids) fin.push(Number(await q.client.hget(`bull:${q.name}:${id}`, 'finishedOn')));
  fin.sort((a, b) => a - b);
  const got = await q.getMetrics(kind);
  const want = replayMetrics(seed, fin, maxPoints);
  assert.deepStrictEqual(got, want, `${q.name} ${kind} metrics: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
  const fields = Object.keys(await q.client.hgetall(`bull:${q.name}:metrics:${kind}`)).sort();
  return { fields, points: got.count, count: got.meta.count };
}

// removeOnComplete values as Bull's moveToFinishedArgs reads them: a non-empty string is
// "remove", an age of 0 keeps nothing, a count keeps the newest
// (under the old reading, age 0 and 'yes' kept their jobs: [0, 1, 2, 3, 4, 5])
const retOpts = () => [{ removeOnComplete: { age: 0 } }, {}, { removeOnComplete: 3 },
  { removeOnComplete: 'yes' }, {}, { removeOnComplete: '' }];

async function retentionState(q, ids) {
  const base = `bull:${q.name}:`;
  const completed = (await q.client.zrange(`${base}completed`, 0, -1)).map((id) => ids.indexOf(id));
  const hashes = [];
  for (const [i, id] of ids.entries()) if (await q.client.exists(base + id)) hashes.push(i);
  return { completed: completed.sort((a, b) => a - b), hashes };
}

// a short window: every job runs in the end, and the limiter's sets are empty again
async function flowState(q) {
  const base = `bull:${q.name}:`;
  return {
    counts: await q.getJobCounts(),
    left: (await q.client.keys(`${base}limiter:*`)).map((k) => k.slice(base.length)).sort(),
  };
}

const jobsLim = () => [1, 2, 3, 4, 5, 6].map((n) => ({ n }));
const jobsGrp = () => ['a', 'a', 'b', 'a', 'b'].map((user, n) => ({ user, n }));

// the payloads published on <queue>:delayed, as text
async function listenDelayed(names) {
  const sub = mk(names[0]).eclient;
  const heard = [];
  sub.on('message', (ch, msg) => heard.push([ch.split(':')[1], msg]));
  await sub.subscribe(...names.map((n) => `bull:${n}:delayed`));
  return { heard, stop: () => sub.quit() };
}

// every parked job's due time was announced on the delayed channel with the same text its
// score gives (Bull publishes the Lua number; promotions may add other messages)
async function announced(what, q, heard) {
  const parked = await q.client.zrange(`bull:${q.name}:delayed`, 0, -1, 'WITHSCORES');
  const texts = heard.filter((h) => h[0] === q.name).map((h) => h[1]);
  for (let i = 1; i < parked.length; i += 2) {
    const due = Number(parked[i]) / 4096;
    assert.ok(texts.some((t) => Math.abs(Number(t) - due) < 1e-3 && /^\d+(\.\d+)?$/.test(t)),
      `${what}: due ${due} of a parked job was not published on delayed (heard ${texts})`);
  }
  return texts.length;
}

async function bullSide() {
  const rec = {};
  const bullHeard = await listenDelayed(['lim-bull', 'grp-bull']);
  // limiter without groups
  {
    const q = mk('lim-bull', { limiter: { max: 2, duration: WINDOW } });
    const ids = [];
    for (const d of jobsLim()) ids.push(String((await q.add(d)).id));
    q.process(async (job) => job.data);
    await until('Bull: 2 done, 4 parked', async () => (await q.getJobCounts()).completed === 2 &&
      (await q.client.scard('bull:lim-bull:limiter:limited')) === 4, 60000);
    await q.close();
    rec.lim = await limiterState(mk('lim-bull'), ids);
    await until('Bull: 4 delayed messages', async () => bullHeard.heard.filter((h) => h[0] === 'lim-bull').length >= 4);
    await announced('Bull limiter', mk('lim-bull'), bullHeard.heard);
    const p = mk('lim-bp');
    for (const d of jobsLim()) await p.add(d);
    await p.close();
  }
  // limiter with groupKey: the producer puts the group in the id
  {
    const q = mk('grp-bull', { limiter: { max: 1, duration: WINDOW, groupKey: 'user' } });
    const ids = [];
    for (const d of jobsGrp()) ids.push(String((await q.add(d)).id));
    ids.forEach((id, i) => assert.match(id, new RegExp(`^[0-9a-f-]{36}:${jobsGrp()[i].user}$`)));
    q.process(async (job) => job.data);
    await until('Bull: 2 done, 3 parked', async () => (await q.getJobCounts()).completed === 2 &&
      (await q.client.hlen('bull:grp-bull:limiter:index')) === 3, 60000);
    await q.close();
    rec.grpIds = ids;
    rec.grp = await limiterState(mk('grp-bull'), ids);
    await until('Bull: 3 delayed messages', async () => bullHeard.heard.filter((h) => h[0] === 'grp-bull').length >= 3);
    await announced('Bull limiter with groupKey', mk('grp-bull'), bullHeard.heard);
    await bullHeard.stop();
  }
  // metrics: 5 completions and 2 final failures after a seeded point 2 minutes back
  {
    const q = mk('met-bull', { metrics: { maxDataPoints: 4 } });
    rec.metSeed = { completed: await seedMetrics(q, 'completed', 2), failed: await seedMetrics(q, 'failed', 7) };
    for (let i = 0; i < 5; i++) await q.add({ i });
    for (let i = 0; i < 2; i++) await q.add('fail', { message: 'boom' });
    q.process('*', async (job) => { if (job.name === 'fail') throw new Error('boom'); return job.data; });
    await until('Bull: metrics jobs done', async () => { const c = await q.getJobCounts(); return c.completed === 5 && c.failed === 2; }, 60000);
    await q.close();
    const r = mk('met-bull');
    rec.met = { completed: await metricsCheck(r, 'completed', rec.metSeed.completed, 4),
      failed: await metricsCheck(r, 'failed', rec.metSeed.failed, 4) };
    await r.close();
  }
  // retention
  {
    const q = mk('ret-bull');
    const ids = [];
    for (const [i, o] of retOpts().entries()) ids.push(String((await q.add({ i }, o)).id));
    q.process(async (job) => job.data);
    await until('Bull: retention jobs done', async () => (await q.client.llen('bull:ret-bull:wait')) === 0 &&
      (await q.client.llen('bull:ret-bull:active')) === 0, 30000);
    await q.close();
    rec.ret = await retentionState(mk('ret-bull'), ids);
    const p = mk('ret-bp');
    for (const [i, o] of retOpts().entries()) await p.add({ i }, o);
    await p.close();
  }
  // a 1 s limiter window: the parked jobs run in later windows
  {
    const q = mk('flow-bull', { limiter: { max: 2, duration: 1000 } });
    for (const d of jobsLim()) await q.add(d);
    q.process(async (job) => job.data);
    await until('Bull: all 6 flow jobs done', async () => (await q.getJobCounts()).completed === 6, 60000);
    await q.close();
    rec.flow = await flowState(mk('flow-bull'));
    const p = mk('flow-bp');
    for (const d of jobsLim()) await p.add(d);
    await p.close();
  }
  // an immediate retry with a truthy non-boolean lifo goes to the front (RPUSH), as Bull
  // reads opts.lifo: the failed job runs again before the others
  {
    const q = mk('lifo-bull');
    const a = await q.add({ k: 'A' }, { attempts: 2, lifo: 'yes' });
    await q.add({ k: 'B' });
    await q.add({ k: 'C' });
    const order = [];
    q.process(async (job) => {
      order.push(job.data.k);
      if (job.id === a.id && job.attemptsMade === 0) throw new Error('once');
      return job.data;
    });
    await until('Bull: lifo jobs done', async () => (await q.getJobCounts()).completed === 3);
    await q.close();
    rec.lifo = order;
    const p = mk('lifo-bp');
    await p.add({ k: 'A' }, { attempts: 2, lifo: 'yes' });
    await p.add({ k: 'B' });
    await p.add({ k: 'C' });
    await p.close();
  }
  // job logs through Bull's own addLog with keepLogs 3 (Bull v4's job.log keeps all)
  {
    const q = mk('log-bull');
    const job = await q.add({ x: 1 });
    q.process(async (j) => {
      for (let i = 1; i <= 5; i++) await bullScripts.addLog(q, j.id, `line ${i}`, 3);
      return j.data;
    });
    await until('Bull: log job done', async () => (await q.getJobCounts()).completed === 1);
    await q.close();
    rec.logs = await mk('log-bull').getJobLogs(job.id);
  }
  // the same jobs for bullpen (before its pool starts: all are waiting when it does); the
  // grouped ones through bullpen's own producer (the probe's add = bullpen enqueue)
  for (const d of jobsGrp()) probe([], '-q', 'grp-bp', 'add', '__default__', JSON.stringify(d));
  const m = mk('met-bp');
  rec.metSeedBp = { completed: await seedMetrics(m, 'completed', 2), failed: await seedMetrics(m, 'failed', 7) };
  for (let i = 0; i < 5; i++) await m.add({ i });
  for (let i = 0; i < 2; i++) await m.add('fail', { message: 'boom' });
  await m.close();
  const l = mk('log-bp');
  await l.add({ x: 1 });
  await l.add('plugin', { mode: 'warn' });
  const b = mk('bo-bp');
  await b.add({ message: 'boom' }, { attempts: 3, backoff: { type: 'jitter', delay: 10 } });
  await b.add({ message: 'boom' }, { attempts: 2, backoff: { type: 'fixed', delay: 1 } });
  await b.add({ message: 'boom' }, { attempts: 2, backoff: 'fixed' });
  await b.add({ message: 'boom' }, { attempts: 2, backoff: { delay: 5 } });
  await Promise.all([l.close(), b.close()]);
  fs.writeFileSync(env('BP_STATE'), JSON.stringify(rec));
  console.log('Bull side recorded');
}

// what redis-cli SUBSCRIBE wrote: message / channel / payload lines
function heardByCli() {
  const lines = fs.readFileSync(env('BP_DELAYED_SUB'), 'utf8').split('\n');
  const heard = [];
  for (let i = 0; i + 2 < lines.length; i++) {
    if (lines[i] === 'message') heard.push([lines[i + 1].split(':')[1], lines[i + 2]]);
  }
  return heard;
}

async function bullpenSide() {
  const rec = JSON.parse(fs.readFileSync(env('BP_STATE'), 'utf8'));
  {
    const q = mk('lim-bp');
    const ids = (await q.client.keys('bull:lim-bp:[0-9]*')).filter((k) => /:\d+$/.test(k)).map((k) => k.split(':').pop())
      .sort((a, b) => a - b);
    await until('bullpen: 2 done, 4 parked', async () => (await q.getJobCounts()).completed === 2 &&
      (await q.client.scard('bull:lim-bp:limiter:limited')) === 4, 60000);
    sameLimiter('limiter (2 workers)', rec.lim, await limiterState(q, ids), () => 'all', 2, false);
    await until('bullpen: 4 delayed messages', async () => heardByCli().filter((h) => h[0] === 'lim-bp').length >= 4);
    console.log(`limiter: ${await announced("bullpen limiter", q, heardByCli())} delayed messages, every parked due among them, e.g. ${heardByCli().slice(-1)[0][1]}`);
    await q.close();
  }
  {
    const q = mk('grp-bp');
    // the ids bullpen's producer made, in add order (their wait/delayed/completed place)
    const hashes = (await q.client.keys('bull:grp-bp:*')).filter((k) => /:[0-9a-f-]{36}:[ab]$/.test(k));
    const ids = [];
    for (const k of hashes) ids.push({ id: k.slice('bull:grp-bp:'.length), ts: Number(await q.client.hget(k, 'timestamp')), n: JSON.parse(await q.client.hget(k, 'data')).n });
    ids.sort((a, b) => a.n - b.n);
    assert.deepStrictEqual(ids.map((x) => x.id.split(':').pop()), rec.grpIds.map((x) => x.split(':').pop()), 'group ids');
    await until('bullpen: 2 done, 3 parked', async () => (await q.getJobCounts()).completed === 2 &&
      (await q.client.hlen('bull:grp-bp:limiter:index')) === 3, 60000);
    const st = await limiterState(q, ids.map((x) => x.id));
    sameLimiter('limiter with group_key', rec.grp, st, (pos) => jobsGrp()[pos].user, 1, true);
    await until('bullpen: 3 delayed messages', async () => heardByCli().filter((h) => h[0] === 'grp-bp').length >= 3);
    await announced('bullpen limiter with group_key', q, heardByCli());
    await q.close();
  }
  {
    // lifo-bp has no workers: the probe (bullpen's take and finish scripts) plays one
    const take = () => JSON.parse(probe(['-q', 'lifo-bp', '-t', 'lifo-token'], 'take-next'));
    const order = [];
    let job = take();
    order.push(JSON.parse(job.data).k);
    probe(['-q', 'lifo-bp', '-t', 'lifo-token'], 'fail', job.id, 'once');
    for (let i = 0; i < 3; i++) {
      job = take();
      order.push(JSON.parse(job.data).k);
      probe(['-q', 'lifo-bp', '-t', 'lifo-token'], 'complete', job.id, 'null');
    }
    assert.deepStrictEqual(order, rec.lifo, `retry with lifo "yes": bullpen ran ${order}, Bull ${rec.lifo}`);
    console.log(`lifo retry order as Bull: ${order}`);
  }
  {
    const q = mk('ret-bp');
    await until('bullpen: retention jobs done', async () => (await q.client.llen('bull:ret-bp:wait')) === 0 &&
      (await q.client.llen('bull:ret-bp:active')) === 0, 30000);
    const st = await retentionState(q, retOpts().map((_, i) => String(i + 1)));
    assert.deepStrictEqual(rec.ret.completed, [1, 2, 4, 5], 'Bull kept what this test expects');
    assert.deepStrictEqual(st, rec.ret, `removeOnComplete: bullpen ${JSON.stringify(st)} Bull ${JSON.stringify(rec.ret)}`);
    console.log(`removeOnComplete as Bull: ${JSON.stringify(st)}`);
    await q.close();
  }
  {
    const q = mk('flow-bp');
    await until('bullpen: all 6 flow jobs done', async () => (await q.getJobCounts()).completed === 6, 60000);
    await until('bullpen: limiter sets empty', async () => (await q.client.hlen('bull:flow-bp:limiter:index')) === 0);
    const st = await flowState(q);
    const norm = (x) => ({ counts: x.counts, left: x.left.filter((k) => k !== 'limiter') });
    assert.deepStrictEqual(norm(st), norm(rec.flow), `limiter flow: bullpen ${JSON.stringify(st)} Bull ${JSON.stringify(rec.flow)}`);
    console.log(`limiter, 1 s window: all 6 ran, as under Bull: ${JSON.stringify(st)}`);
    await q.close();
  }
  {
    // one queue served at once by bullpen's pool and by a Bull worker with the same limiter:
    // one limit for both
    const q = mk('mix-bp', { limiter: { max: 2, duration: WINDOW } });
    q.process(2, async (job) => job.data);
    for (const d of jobsLim()) await q.add(d);
    await until('mixed: 2 done, 4 parked', async () => (await q.getJobCounts()).completed === 2 &&
      (await q.client.hlen('bull:mix-bp:limiter:index')) === 4, 60000);
    const c = await q.getJobCounts();
    assert.deepStrictEqual(c, { waiting: 0, active: 0, completed: 2, failed: 0, delayed: 4, paused: 0 });
    assert.strictEqual(await q.client.get('bull:mix-bp:limiter'), '2');
    console.log(`bullpen and a Bull worker on one queue: one limit, ${JSON.stringify(c)}`);
    await q.close();
  }
  {
    const q = mk('met-bp');
    await until('bullpen: metrics jobs done', async () => { const c = await q.getJobCounts(); return c.completed === 5 && c.failed === 2; }, 60000);
    for (const kind of ['completed', 'failed']) {
      const got = await metricsCheck(q, kind, rec.metSeedBp[kind], 4);
      assert.deepStrictEqual(got.fields, rec.met[kind].fields, `metrics:${kind} fields`);
      assert.strictEqual(got.count, rec.met[kind].count, `metrics:${kind} count`);
      assert.ok(got.points > 0 && rec.met[kind].points > 0, 'points were pushed');
      console.log(`metrics:${kind}: as Bull's collectMetrics: count ${got.count}, ${got.points} points (Bull ${rec.met[kind].points})`);
    }    await q.close();
  }
  {
    const q = mk('log-bp');
    await until('bullpen: log jobs done', async () => (await q.getJobCounts()).completed === 2);
    const logs = await q.getJobLogs('1');
    assert.deepStrictEqual(logs.count, rec.logs.count, `log count ${JSON.stringify(logs)} vs Bull ${JSON.stringify(rec.logs)}`);
    // the program wrote 6 lines to a queue that keeps 3: the first 3 went to Redis at once,
    // the newest 2 at the end after a note, so LTRIM leaves the note and the last 2 lines
    // (Bull's keepLogs 3 leaves the last 3)
    assert.deepStrictEqual(logs.logs, [
      'bullpen: 1 log line skipped, the last 2 follow',
      'line 5',
      `long ${'0'.repeat(100)}`.slice(0, 64), // cut to log_max_line_bytes
    ]);
    assert.strictEqual(logs.logs[1], rec.logs.logs[2], 'the newest line of both is the last one');
    const plog = await q.getJobLogs('2');
    assert.deepStrictEqual(plog.logs, ['example ran', 'example warning'], `plugin log and warn: ${JSON.stringify(plog)}`);
    console.log(`job logs: exec stderr ${JSON.stringify(logs.logs)}, plugin ${JSON.stringify(plog.logs)}`);
    await q.close();
  }
  {
    const q = mk('bo-bp');
    await until('bullpen: backoff jobs settled', async () => (await q.getJobCounts()).failed === 4, 30000);
    const custom = await q.getJob('1');
    assert.strictEqual(custom.attemptsMade, 1, 'a custom backoff is not retried');
    assert.match(custom.failedReason, /^boom \(not retried: backoff type "jitter" is a custom strategy/);
    const fixed = await q.getJob('2');
    assert.strictEqual(fixed.attemptsMade, 2, 'fixed backoff retries');
    assert.strictEqual(fixed.failedReason, 'boom');
    const str = await q.getJob('3');
    assert.strictEqual(str.attemptsMade, 1);
    assert.strictEqual(str.failedReason, 'boom (not retried: backoff "fixed" is neither a number of ms nor {"type": "fixed" or "exponential", "delay": ms})');
    const untyped = await q.getJob('4');
    assert.strictEqual(untyped.attemptsMade, 1);
    assert.strictEqual(untyped.failedReason, 'boom (not retried: backoff has no type; use "fixed" or "exponential")');
    console.log(`custom backoff: ${custom.failedReason}`);
    await q.close();
  }
}

(process.argv[2] === 'bull' ? bullSide() : bullpenSide()).then(() => process.exit(0), (e) => {
  console.error(e.stack || e);
  process.exit(1);
});
