// shared_queue.js -- a stock Bull worker and bullpen's protocol (the probe's work loop) serve
// one queue at the same time: every job runs exactly as often as its attempts say, whoever
// takes it, and ends completed or failed with the right value.
'use strict';
const { spawn } = require('child_process');
const { assert, queue, until, env } = require('./lib');

async function main() {
  const q = queue(undefined, { guardInterval: 200 });
  await q.isReady();
  const jobs = [];
  for (let i = 0; i < 300; i++) {
    if (i % 10 === 3) jobs.push(await q.add('fail', { message: `f${i}` }, { attempts: 2, backoff: 30 }));
    else jobs.push(await q.add('echo', { i }, i % 7 === 0 ? { priority: 1 + (i % 3) } : {}));
  }
  const expectedRuns = jobs.reduce((n, j) => n + (j.name === 'fail' ? 2 : 1), 0);

  let bullRuns = 0;
  q.process('*', 2, async (job) => {
    bullRuns++;
    if (job.name === 'fail') throw new Error(job.data.message);
    return job.data;
  });
  const probe = spawn(env('BP_PROBE'), ['-c', env('BP_CONF'), '-q', env('BP_QUEUE'), 'work', '120'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  probe.stdout.on('data', (d) => { out += d; });
  const probeExit = new Promise((resolve) => probe.on('exit', resolve));

  await until('all settled', async () => {
    const c = await q.getJobCounts();
    return c.completed + c.failed === jobs.length;
  }, 120000);
  assert.strictEqual(await probeExit, 0, `probe exit (${out})`);
  const probeRuns = Number((out.match(/done (\d+)/) || [])[1]);
  assert.ok(probeRuns > 0, `the probe took part: ${out}`);
  assert.ok(bullRuns > 0, 'the Bull worker took part');
  assert.strictEqual(probeRuns + bullRuns, expectedRuns, `runs: probe ${probeRuns} + bull ${bullRuns}`);

  for (const j of jobs) {
    const g = await q.getJob(j.id);
    if (j.name === 'fail') {
      assert.strictEqual(await g.getState(), 'failed');
      assert.strictEqual(g.attemptsMade, 2);
      assert.strictEqual(g.failedReason, j.data.message);
    } else {
      assert.strictEqual(await g.getState(), 'completed');
      assert.deepStrictEqual(g.returnvalue, j.data);
    }
  }
  console.log(`ok: shared queue (probe ${probeRuns} runs, bull ${bullRuns} runs)`);
  await q.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
