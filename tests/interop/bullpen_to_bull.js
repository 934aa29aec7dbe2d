// bullpen_to_bull.js -- jobs added by bullpen (`bullpen enqueue` when BP_ENQUEUE is set,
// else the same bp_queue_add through the probe) are run by a stock Bull worker
// (queue.process), with their options honoured: attempts + backoff, delay, priority, and
// the ids and events Bull expects.
'use strict';
const { execFileSync } = require('child_process');
const { assert, queue, probe, until, recorder, subscribed, env } = require('./lib');

function enqueue(name, data, opts) {
  if (process.env.BP_ENQUEUE) {
    const argv = ['enqueue', '-c', env('BP_CONF'), '-q', env('BP_QUEUE'), name, data];
    if (opts) argv.push('--opts', opts);
    return execFileSync(process.env.BP_ENQUEUE, argv, { encoding: 'utf8' }).trim();
  }
  return opts ? probe([], 'add', name, data, opts) : probe([], 'add', name, data);
}

async function main() {
  const q = queue(undefined, { stalledInterval: 1000, guardInterval: 200 });
  const ev = recorder(q);
  await subscribed(q, ev);

  const ids = {
    echo: enqueue('echo', '{"a":[1,2,{"b":"c/d"}],"s":"\\u00e9","n":100000000000000000000}'),
    str: enqueue('echo', '"just a string"'),
    retry: enqueue('flaky', '{"n":1}', '{"attempts":3,"backoff":{"type":"fixed","delay":100}}'),
    delayed: enqueue('echo', '{"late":true}', '{"delay":700}'),
    custom: enqueue('echo', '{"c":1}', '{"jobId":"my-id"}'),
  };
  assert.strictEqual(ids.custom, 'my-id');
  assert.strictEqual(enqueue('echo', '{"c":2}', '{"jobId":"my-id"}'), 'my-id', 'duplicate returns the holder');
  assert.ok(/^[0-9]+$/.test(ids.echo));

  const runs = {};
  q.process('*', async (job) => {
    runs[job.id] = (runs[job.id] || 0) + 1;
    if (job.name === 'flaky' && job.attemptsMade < 2) throw new Error(`flaky ${job.attemptsMade}`);
    return { got: job.data, opts: job.opts };
  });

  await until('all done', async () => (await q.getCompletedCount()) === 5, 30000);
  const counts = await q.getJobCounts();
  assert.deepStrictEqual(counts, { waiting: 0, active: 0, completed: 5, failed: 0, delayed: 0, paused: 0 });

  let j = await q.getJob(ids.echo);
  assert.deepStrictEqual(j.returnvalue.got, { a: [1, 2, { b: 'c/d' }], s: '\u00e9', n: 1e20 });
  assert.strictEqual(await q.client.hget(`bull:${q.name}:${ids.echo}`, 'data'),
    '{"a":[1,2,{"b":"c/d"}],"s":"\\u00e9","n":100000000000000000000}', 'data stored byte-exact');
  assert.strictEqual(j.opts.attempts, 1);
  assert.strictEqual(j.opts.delay, 0);
  assert.ok(Number.isInteger(j.opts.timestamp) && j.opts.timestamp === j.timestamp);
  assert.strictEqual(j.name, 'echo');
  j = await q.getJob(ids.str);
  assert.strictEqual(j.returnvalue.got, 'just a string');
  j = await q.getJob(ids.retry);
  assert.strictEqual(j.attemptsMade, 2);
  assert.strictEqual(runs[ids.retry], 3);
  assert.deepStrictEqual(j.opts.backoff, { type: 'fixed', delay: 100 });
  j = await q.getJob(ids.delayed);
  assert.ok(j.processedOn >= j.timestamp + 700, 'delay honoured');
  assert.strictEqual(j.delay, 0);
  assert.deepStrictEqual((await q.getJob('my-id')).returnvalue.got, { c: 1 });
  assert.strictEqual(runs['my-id'], 1);
  await until('waiting events', () => ev.of('waiting', ids.echo).length === 1);

  await q.close();
  console.log('ok: bullpen -> bull');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
