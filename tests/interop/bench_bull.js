// bench_bull.js -- the measurement peer for bench.sh. "fill N": addBulk N echo jobs;
// "work N": a stock Bull worker (queue.process('*', async job => job.data)) until N completed;
// prints the seconds it took.
'use strict';
const { queue, sleep } = require('./lib');

async function main() {
  const [mode, nText] = process.argv.slice(2);
  const n = Number(nText);
  const q = queue();
  await q.isReady();
  if (mode === 'fill') {
    for (let i = 0; i < n; i += 1000) {
      const batch = [];
      for (let k = i; k < Math.min(n, i + 1000); k++) batch.push({ name: 'echo', data: { i: k, pad: 'x'.repeat(64) } });
      await q.addBulk(batch);
    }
  } else {
    const t0 = process.hrtime.bigint();
    let done = 0;
    const finished = new Promise((resolve) => {
      q.on('completed', () => { if (++done === n) resolve(); });
    });
    q.process('*', async (job) => job.data);
    await finished;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`bull ${n} jobs in ${s.toFixed(3)} s: ${Math.round(n / s)} jobs/s`);
    await sleep(100);
  }
  await q.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
