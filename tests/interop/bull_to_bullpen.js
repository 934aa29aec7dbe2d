// bull_to_bullpen.js -- Bull (Node) adds a mix of jobs, bullpen's protocol (driven by the
// probe's work loop) runs them, and Bull's own API must see exactly what a Bull worker
// would have left: counts, hash fields and their encodings, job.finished(), global events,
// retry/backoff timing, priority and LIFO order, retention.
//
// BP_RUNNER=pool: a running `bullpen run` pool works the jobs instead of the probe (its
// diagnostics handlers: echo for "*", fail); the probe-only parts (progress, stack lines,
// activation order of a single consumer) are skipped.
'use strict';
const { assert, queue, probe, until, recorder, subscribed } = require('./lib');

const pool = process.env.BP_RUNNER === 'pool';

// Work the queue until it is empty: the probe's loop, or wait for the pool.
async function workAll(q, minDone) {
  if (!pool) {
    const out = probe([], 'work', '60');
    assert.match(out, /done [0-9]+/, `probe work: ${out}`);
    return;
  }
  await until('the pool to settle', async () => {
    const c = await q.getJobCounts();
    return c.waiting + c.active + c.delayed === 0 && c.completed + c.failed >= minDone;
  }, 60000);
}

async function main() {
  const q = queue();
  const ev = recorder(q);
  await subscribed(q, ev);

  const big = { a: 1, s: 'x/y "quoted" \u00e9', n: 100000000000000000000, f: 0.1, arr: [1, null] };
  const j1 = await q.add('echo', big);
  const j2 = await q.add('echo', 'hello');
  const j3 = await q.add('fail', { message: 'fixed boom' }, { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
  const j4 = await q.add('fail', { message: 'exp boom' }, { attempts: 3, backoff: { type: 'exponential', delay: 100 } });
  const j5 = await q.add('echo', { d: 1 }, { delay: 1000 });
  const j6 = await q.add('echo', { p: 1 }, { priority: 1 });
  const j7 = await q.add('echo', { l: 1 }, { lifo: true });
  const j8 = await q.add('echo', { c: 1 }, { jobId: 'custom-1' });
  const dup = await q.add('echo', { c: 2 }, { jobId: 'custom-1' });
  const j9 = await q.add('echo', { r: 1 }, { removeOnComplete: true });
  const j10 = await q.add('fail', { message: 'final' }, { removeOnFail: true });
  const j11 = await q.add('progress', { x: 1 });
  const j12 = await q.add('fail', { message: 'once' }, { attempts: 2, stackTraceLimit: 1 });
  const j13 = await q.add('echo', 42, { backoff: 500 });
  assert.strictEqual(dup.id, 'custom-1');
  const fin1 = j1.finished();
  const fin3 = j3.finished().then(() => 'resolved', (e) => e.message);

  await workAll(q, 11);

  const counts = await q.getJobCounts();
  assert.deepStrictEqual(counts, { waiting: 0, active: 0, completed: 8, failed: 3, delayed: 0, paused: 0 });

  // job.finished() resolves to the parsed returnvalue; rejects with the reason
  assert.deepStrictEqual(await fin1, big);
  assert.strictEqual(await fin3, 'fixed boom');

  const g = async (id) => q.getJob(id);
  let j = await g(j1.id);
  assert.deepStrictEqual(j.returnvalue, big);
  assert.deepStrictEqual(j.data, big);
  assert.strictEqual(j.attemptsMade, 0);
  assert.ok(Number.isInteger(j.processedOn) && Number.isInteger(j.finishedOn) && j.finishedOn >= j.processedOn);
  assert.strictEqual(await j.getState(), 'completed');
  const raw1 = await q.client.hgetall(`bull:${q.name}:${j1.id}`);
  assert.strictEqual(raw1.returnvalue, raw1.data, 'echo is byte-exact');
  assert.strictEqual(raw1.attemptsMade, undefined, 'first-try success leaves attemptsMade absent');
  assert.strictEqual(raw1.finishedOn, String(await q.client.zscore(`bull:${q.name}:completed`, j1.id)));

  j = await g(j2.id);
  assert.strictEqual(j.returnvalue, 'hello');
  assert.strictEqual((await q.client.hget(`bull:${q.name}:${j2.id}`, 'returnvalue')), '"hello"');

  j = await g(j3.id);
  assert.strictEqual(await j.getState(), 'failed');
  assert.strictEqual(j.attemptsMade, 3);
  assert.strictEqual(j.failedReason, 'fixed boom');
  assert.strictEqual(j.stacktrace.length, 3);
  assert.match(j.stacktrace[0], /^Error: fixed boom\n/);
  assert.ok(j.finishedOn - j.timestamp >= 400, `fixed backoff 2x200 ms: ${j.finishedOn - j.timestamp}`);

  j = await g(j4.id);
  assert.strictEqual(j.attemptsMade, 3);
  assert.ok(j.finishedOn - j.timestamp >= 400, `exponential backoff 100+300 ms: ${j.finishedOn - j.timestamp}`);

  j = await g(j5.id);
  assert.strictEqual(await j.getState(), 'completed');
  assert.strictEqual(j.delay, 0, 'promotion sets delay 0');
  assert.ok(j.processedOn >= j.timestamp + 1000, 'not run before its delay');

  j = await g('custom-1');
  assert.deepStrictEqual(j.returnvalue, { c: 1 });
  assert.strictEqual(await g(j9.id), null, 'removeOnComplete: true leaves no hash');
  assert.strictEqual(await g(j10.id), null, 'removeOnFail: true leaves no hash');

  j = await g(j11.id);
  if (!pool) {
    assert.deepStrictEqual(j.progress(), { pct: 50 });
    assert.deepStrictEqual((await q.getJobLogs(j11.id)).logs, ['half way']);
  }

  j = await g(j12.id);
  assert.strictEqual(j.attemptsMade, 2);
  assert.strictEqual(j.failedReason, 'once');
  assert.strictEqual(j.stacktrace.length, 1, 'stackTraceLimit 1');

  j = await g(j13.id);
  assert.deepStrictEqual(j.opts.backoff, { type: 'fixed', delay: 500 }, 'Bull normalised the bare backoff');
  assert.strictEqual(j.returnvalue, 42);

  // events: order of activation (LIFO first, then priority, then FIFO), and payloads
  await until('all events', () => ev.of('completed').length >= 9 && ev.of('failed').length >= 4);
  const actives = ev.of('active').map((e) => e.id);
  if (!pool) assert.deepStrictEqual(actives.slice(0, 3), [j7.id, j6.id, j1.id], `activation order ${actives}`);
  assert.deepStrictEqual(JSON.parse(ev.of('completed', j1.id)[0].arg), big);
  assert.strictEqual(JSON.parse(ev.of('completed', j9.id)[0].arg).r, 1, 'removeOnComplete still publishes val');
  assert.deepStrictEqual(ev.of('failed', j3.id).map((e) => e.arg), ['fixed boom'], 'one failed event, at the end');
  assert.deepStrictEqual(ev.of('failed', j10.id).map((e) => e.arg), ['final']);
  if (!pool) assert.deepStrictEqual(ev.of('progress', j11.id).map((e) => e.arg), [{ pct: 50 }]);
  assert.ok(ev.of('waiting', j5.id).length === 1, 'promotion publishes waiting@token');

  // retention trims the whole set: removeOnComplete 2 keeps the 2 newest completed jobs
  const r = [];
  for (let i = 0; i < 3; i++) r.push(await q.add('echo', { k: i }, { removeOnComplete: 2 }));
  await workAll(q, 2); // (not job.finished(): a trimmed job never reports finished)
  assert.strictEqual(await q.getCompletedCount(), 2);
  assert.strictEqual(await g(j1.id), null, 'older completed jobs were trimmed with their hash');
  assert.ok(await g(r[2].id));

  await q.close();
  console.log(`ok: bull -> bullpen (${pool ? 'pool' : 'probe'})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
