// protocol_edges.js -- the edges of the protocol against Bull's view: a job removed while
// waiting, a globally paused queue, Bull's stalled checker semantics and texts, the
// master's dead-worker recovery by token, and the timeout failure by token.
'use strict';
const { assert, queue, probe, sleep, until, recorder, subscribed } = require('./lib');

async function main() {
  const q = queue();
  const ev = recorder(q);
  await subscribed(q, ev);
  const K = (s) => `bull:${q.name}:${s}`;
  const hash = (id) => q.client.hgetall(K(id));

  // 1. the hash vanished while the id sat in wait: dropped from active, never resurrected
  let a = await q.add('echo', { v: 1 });
  await q.client.del(K(a.id));
  assert.strictEqual(probe([], 'take-next'), 'none');
  assert.strictEqual(await q.client.llen(K('active')), 0);
  assert.strictEqual(await q.client.exists(K(a.id)), 0, 'no stub hash');
  a = await q.add('echo', { v: 2 });
  await q.client.rpoplpush(K('wait'), K('active')); // what BRPOPLPUSH does
  await q.client.del(K(a.id));
  assert.strictEqual(probe([], 'take', a.id), 'none');
  assert.strictEqual(await q.client.llen(K('active')), 0);
  // a stub hash (only processedOn, what Bull's moveToActive leaves for a removed job)
  await q.client.hset(K('stub-1'), 'processedOn', '1');
  await q.client.lpush(K('wait'), 'stub-1');
  assert.strictEqual(probe([], 'take-next'), 'none');
  assert.strictEqual(await q.client.llen(K('active')), 0);
  assert.strictEqual(await q.client.exists(K('stub-1:lock')), 0);
  await q.client.del(K('stub-1'));

  // 2. global pause: adds (Bull's and ours) land in paused, nothing is taken, resume runs them
  await q.pause();
  assert.strictEqual(probe([], 'paused'), '1');
  const p1 = await q.add('echo', { p: 1 });
  const p2id = probe([], 'add', 'echo', '{"p":2}');
  assert.deepStrictEqual(await q.getJobCounts(), { waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, paused: 2 });
  assert.strictEqual(probe([], 'take-next'), 'none');
  await q.resume();
  assert.strictEqual(probe([], 'paused'), '0');
  assert.match(probe([], 'work', '30'), /done 2/);
  assert.deepStrictEqual((await q.getJob(p1.id)).returnvalue, { p: 1 });
  assert.deepStrictEqual((await q.getJob(p2id)).returnvalue, { p: 2 });

  // 3. Bull's stalled checker: a job whose lock expired goes back to the front of wait once
  // (stalledCounter 1, global:stalled); the next stall fails it with Bull's two texts
  const s = await q.add('echo', { s: 1 }, { attempts: 5 });
  const first = JSON.parse(probe(['-l', '300'], 'take-next'));
  assert.strictEqual(first.id, s.id);
  const stalledCheck = async () => {
    // guarded by stalled-check PX 200: poll until a run happens and settles the job
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error('the stalled check never settled the job');
      await sleep(250);
      probe(['-s', '200'], 'stalled');
      if ((await q.client.llen(K('active'))) === 0) return;
    }
  };
  await stalledCheck();
  let h = await hash(s.id);
  assert.strictEqual(h.stalledCounter, '1');
  assert.strictEqual(await (await q.getJob(s.id)).getState(), 'waiting');
  await until('global:stalled', () => ev.of('stalled', s.id).length === 1);
  JSON.parse(probe(['-l', '300'], 'take-next'));
  await stalledCheck();
  h = await hash(s.id);
  assert.strictEqual(h.stalledCounter, '2');
  assert.strictEqual(h.failedReason, 'job stalled more than allowable limit');
  assert.strictEqual(h.attemptsMade, undefined, 'attempts are not consulted');
  assert.strictEqual(await (await q.getJob(s.id)).getState(), 'failed');
  await until('global:failed', () => ev.of('failed', s.id).length === 1);
  assert.strictEqual(ev.of('failed', s.id)[0].arg, 'job stalled more than maxStalledCount');
  assert.strictEqual(await q.client.scard(K('stalled')), 0);

  // 4. a dead worker's jobs, found by its token: a stall each, then failed with our reason
  const d = await q.add('echo', { d: 1 });
  const tok = 'dead-worker-token-1';
  assert.strictEqual(JSON.parse(probe(['-t', tok], 'take-next')).id, d.id);
  assert.strictEqual(probe([], 'recover', 'nobody', 'x'), '0', 'no job holds that token');
  assert.strictEqual(probe([], 'recover', tok, 'worker 3 (pid 812) killed by SIGSEGV'), '1');
  h = await hash(d.id);
  assert.strictEqual(h.stalledCounter, '1');
  assert.strictEqual(await q.client.exists(K(`${d.id}:lock`)), 0);
  assert.strictEqual(await (await q.getJob(d.id)).getState(), 'waiting');
  assert.strictEqual(JSON.parse(probe(['-t', tok], 'take-next')).stalledCounter, 1);
  assert.strictEqual(probe([], 'recover', tok, 'worker 3 (pid 813) killed by SIGSEGV'), '1');
  h = await hash(d.id);
  assert.strictEqual(h.failedReason, 'worker 3 (pid 813) killed by SIGSEGV');
  assert.strictEqual(await (await q.getJob(d.id)).getState(), 'failed');
  await until('failed event', () => ev.of('failed', d.id).length === 1);

  // 5. a timed-out worker's job, by token: Bull's retry rules, then the final failure
  const t = await q.add('echo', { t: 1 }, { attempts: 2 });
  const reason = 'Promise timed out after 500 milliseconds';
  JSON.parse(probe(['-t', 'tok-timeout'], 'take-next'));
  assert.strictEqual(probe([], 'fail-token', 'tok-timeout', reason), '1');
  h = await hash(t.id);
  assert.strictEqual(h.attemptsMade, '1');
  assert.strictEqual(h.failedReason, reason);
  assert.strictEqual(await (await q.getJob(t.id)).getState(), 'waiting', 'retried at once');
  JSON.parse(probe(['-t', 'tok-timeout'], 'take-next'));
  assert.strictEqual(probe([], 'fail-token', 'tok-timeout', reason), '1');
  assert.strictEqual(await (await q.getJob(t.id)).getState(), 'failed');
  assert.strictEqual(probe([], 'fail-token', 'tok-timeout', reason), '0');

  // 6. a lost lock leaves the job alone: no stacktrace, no move
  const l = await q.add('echo', { l: 1 });
  JSON.parse(probe(['-t', 'owner'], 'take-next'));
  assert.match(probe(['-t', 'intruder'], 'fail', l.id, 'nope'), /^0 .*another worker/);
  assert.match(probe(['-t', 'intruder'], 'complete', l.id, '1'), /^0 /);
  h = await hash(l.id);
  assert.strictEqual(h.stacktrace, undefined);
  assert.strictEqual(await (await q.getJob(l.id)).getState(), 'active');
  assert.strictEqual(probe(['-t', 'owner'], 'extend', l.id), '1');
  assert.strictEqual(probe(['-t', 'intruder'], 'extend', l.id), '0');
  // progress: JSON is stored and nested as is; other text goes in as a JSON string
  probe([], 'progress', l.id, '{"pct":7}');
  assert.strictEqual(await q.client.hget(K(l.id), 'progress'), '{"pct":7}');
  probe([], 'progress', l.id, 'half way');
  assert.strictEqual(await q.client.hget(K(l.id), 'progress'), '"half way"');
  await until('progress events', () => ev.of('progress', l.id).length === 2);
  assert.deepStrictEqual(ev.of('progress', l.id).map((e) => e.arg), [{ pct: 7 }, 'half way']);
  assert.strictEqual(probe(['-t', 'owner'], 'complete', l.id, 'plain text, not JSON'), '1');
  assert.strictEqual((await q.getJob(l.id)).returnvalue, 'plain text, not JSON', 'stored as a JSON string');

  // 7. debounce: a second add with the same debounce id returns the holder; the slot is freed
  // when the holder finishes (a key without expiry is deleted)
  const d1 = probe([], 'add', 'echo', '{"db":1}', '{"debounce":{"id":"d1"}}');
  assert.strictEqual(probe([], 'add', 'echo', '{"db":2}', '{"debounce":{"id":"d1"}}'), d1);
  assert.strictEqual(await q.client.get(K('de:d1')), d1);
  assert.strictEqual((await q.client.hget(K(d1), 'deid')), 'd1');
  assert.match(probe([], 'work', '30'), /done 1/);
  assert.strictEqual(await q.client.exists(K('de:d1')), 0);
  assert.deepStrictEqual((await q.getJob(d1)).returnvalue, { db: 1 });

  // 8. repeat every: Bull adds the repeatable (and its first occurrence); taking each
  // occurrence schedules the next under Bull's id scheme, until the limit
  await q.add('tick', { r: 1 }, { repeat: { every: 300, limit: 3 } });
  const [rep] = await q.getRepeatableJobs();
  assert.strictEqual(rep.every, 300);
  assert.match(probe([], 'work', '60'), /done 3/);
  const done = (await q.getCompleted(0, -1)).filter((x) => x.name === 'tick');
  assert.strictEqual(done.length, 3);
  const prefixes = new Set(done.map((x) => x.id.replace(/:[0-9]+$/, '')));
  assert.strictEqual(prefixes.size, 1, `one md5 namespace for all occurrences: ${[...prefixes]}`);
  for (const x of done) {
    assert.strictEqual(x.opts.prevMillis, Number(x.id.split(':').pop()));
    assert.strictEqual(x.opts.repeat.key, rep.key);
    assert.ok(x.processedOn >= x.opts.prevMillis, 'not run before its time');
  }
  assert.deepStrictEqual(done.map((x) => x.opts.repeat.count).sort(), [1, 2, 3]);
  assert.strictEqual(await q.getDelayedCount(), 0, 'the limit stops the series');

  await q.close();
  console.log('ok: protocol edges');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
