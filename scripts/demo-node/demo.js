// scripts/demo-node/demo.js -- the Node side of scripts/demo: the seed application's
// producer (Bull's own queue.add over TLS), the live progress line and the final figures.
//
// Everything it reports comes from Bull: getJobCounts() and the global "completed" events
// while the jobs run, then the job hashes (timestamp, processedOn, finishedOn, returnvalue)
// for the summary; worker memory from `bullpen stats --json` and /proc.
//
// Environment (set by scripts/demo): DEMO_PORT, DEMO_CA, DEMO_TMP, DEMO_CONF, DEMO_BULLPEN,
// DEMO_MASTER_PID, DEMO_JOBS, DEMO_SEED, DEMO_STALL_S, DEMO_QUEUE.
// Exit codes: 0 all jobs completed, 1 some failed or the run stalled or the pool died,
// 130/143 interrupted (SIGINT/SIGTERM).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const Queue = require('bull');
const { plan } = require('./corpus');

const env = (k, dflt) => {
  const v = process.env[k];
  if (v === undefined || v === '') {
    if (dflt !== undefined) return dflt;
    throw new Error(`${k} is not set (run scripts/demo, not this file)`);
  }
  return v;
};

const QUEUE = env('DEMO_QUEUE', 'document-processing');
const JOBS = Number(env('DEMO_JOBS', '3000'));
const SEED = Number(env('DEMO_SEED', '42'));
const STALL_S = Number(env('DEMO_STALL_S', '60'));
const MASTER = Number(env('DEMO_MASTER_PID'));
const TTY = Boolean(process.stdout.isTTY);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

class DemoError extends Error {}

function makeQueue() {
  return new Queue(QUEUE, {
    redis: {
      host: '127.0.0.1',
      port: Number(env('DEMO_PORT')),
      tls: { ca: fs.readFileSync(env('DEMO_CA')), servername: 'localhost' },
      maxRetriesPerRequest: 3,
    },
  });
}

// The live line: on a terminal rewritten in place 4 times a second, otherwise one line
// every 2 seconds.
function progress(q, live, start) {
  let last = 0;
  const samples = [{ t: Date.now(), done: 0 }]; // the last 2 s of (time, done), for jobs/s
  let rate = 0;
  let lastChange = Date.now();
  let prevDone = -1;
  let width = 0;
  let stopped = false;
  let finish;
  const finished = new Promise((resolve, reject) => (finish = { resolve, reject }));

  const tick = async () => {
    if (stopped) return;
    try {
      const c = await q.getJobCounts();
      const done = c.completed + c.failed;
      const now = Date.now();
      samples.push({ t: now, done });
      while (samples.length > 2 && now - samples[1].t >= 2000) samples.shift();
      if (now - samples[0].t >= 200) rate = ((done - samples[0].done) * 1000) / (now - samples[0].t);
      if (done !== prevDone) {
        prevDone = done;
        lastChange = now;
      }
      const line =
        `  ${fmt(done)}/${fmt(JOBS)} done` +
        `  ${fmt(rate)} jobs/s` +
        `  failures ${fmt(c.failed)}` +
        `  cache hits ${fmt(live.hits)}` +
        `  waiting ${fmt(c.waiting)}  active ${c.active}  added ${fmt(live.added)}` +
        `  ${secs(now - start)}`;
      if (TTY) {
        // one terminal row, or \r cannot rewrite it
        const shown = line.slice(0, Math.max(20, (process.stdout.columns || 80) - 1));
        process.stdout.write('\r' + shown.padEnd(width));
        width = shown.length;
      } else if (now - last >= 2000 || done >= JOBS) {
        process.stdout.write(line + '\n');
        last = now;
      }
      if (done >= JOBS && live.added >= JOBS) {
        stopped = true;
        if (TTY) process.stdout.write('\n');
        finish.resolve(c);
        return;
      }
      if (!alive(MASTER)) throw new DemoError(`the bullpen master (pid ${MASTER}) is gone`);
      if (now - lastChange > STALL_S * 1000)
        throw new DemoError(`no job finished for ${STALL_S} s (${done}/${JOBS} done): the pool is stuck`);
    } catch (e) {
      stopped = true;
      if (TTY) process.stdout.write('\n');
      finish.reject(e);
      return;
    }
    setTimeout(tick, 250);
  };
  setTimeout(tick, 0);
  return finished;
}

// queue.add() with up to `window` adds in flight.
async function produce(q, jobs, live) {
  const window = Number(process.env.DEMO_ADD_WINDOW || 64);
  let next = 0;
  const one = async () => {
    while (next < jobs.length) {
      const data = jobs[next++];
      await q.add('document', data);
      live.added++;
    }
  };
  await Promise.all(Array.from({ length: window }, one));
}

// Read the job hashes of every finished job (a pipeline of HMGET, 500 at a time).
async function harvest(q) {
  const ids = [
    ...(await q.client.zrange(q.toKey('completed'), 0, -1)),
    ...(await q.client.zrange(q.toKey('failed'), 0, -1)),
  ];
  const rows = [];
  for (let i = 0; i < ids.length; i += 500) {
    const p = q.client.pipeline();
    for (const id of ids.slice(i, i + 500))
      p.hmget(q.toKey(id), 'timestamp', 'processedOn', 'finishedOn', 'returnvalue', 'failedReason');
    for (const [err, r] of await p.exec()) {
      if (err) throw err;
      rows.push({
        timestamp: Number(r[0]),
        processedOn: Number(r[1]),
        finishedOn: Number(r[2]),
        ret: r[3] ? JSON.parse(r[3]) : null,
        failedReason: r[4],
      });
    }
  }
  return rows;
}

// Worker memory: pids and rss_kb from `bullpen stats --json`, peak from /proc VmHWM.
function memory() {
  const out = execFileSync(env('DEMO_BULLPEN'), ['stats', '-c', env('DEMO_CONF'), '-q', QUEUE, '--json'], {
    encoding: 'utf8',
    timeout: 30000,
  });
  const workers = JSON.parse(out).workers || [];
  const status = (pid, key) => {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : null;
    } catch (e) {
      return null;
    }
  };
  return {
    workers: workers.map((w) => ({ pid: w.pid, rss: w.rss_kb, hwm: status(w.pid, 'VmHWM') })),
    master: status(MASTER, 'VmRSS'),
  };
}

async function main() {
  const tGen = Date.now();
  console.log(`making the corpus for ${fmt(JOBS)} jobs (seed ${SEED})...`);
  const { jobs, stats } = plan({ jobs: JOBS, seed: SEED, dir: path.join(env('DEMO_TMP'), 'docs') });
  console.log(
    `corpus: ${fmt(stats.distinct)} distinct documents (${stats.text} text, ${stats.markdown} Markdown, ` +
      `${stats.html} HTML, ${stats.pdf} PDF, ${stats.docx} DOCX; ${fmt(stats.bytes / 1048576, 1)} MB; ${stats.files} as files, ${stats.inline} inline), ` +
      `${fmt(stats.repeats)} repeats; made in ${secs(Date.now() - tGen)}`,
  );

  const q = makeQueue();
  try {
    await q.isReady();
    const before = await q.getJobCounts();
    const stale = Object.values(before).reduce((a, b) => a + b, 0);
    if (stale) throw new DemoError(`queue ${QUEUE} is not empty (${JSON.stringify(before)})`);

    // global events: the cache-hit count of the live line (the summary recounts from the
    // job hashes, which cannot miss an event)
    const live = { added: 0, hits: 0 };
    q.on('global:completed', (id, val) => {
      try {
        const r = typeof val === 'string' ? JSON.parse(val) : val;
        if (r && r.cached) live.hits++;
      } catch (e) {
        /* not ours */
      }
    });
    await sleep(100); // let the SUBSCRIBE go out before the first job can finish

    console.log(`adding ${fmt(JOBS)} jobs to Bull queue "${QUEUE}" with queue.add('document', {...}):`);
    const tAdd = Date.now();
    const done = progress(q, live, tAdd);
    let addMs = 0;
    const producing = produce(q, jobs, live).then(() => (addMs = Date.now() - tAdd));
    await Promise.all([producing, done]);
    const wall = Date.now() - tAdd;

    const rows = await harvest(q);
    const ok = rows.filter((r) => !r.failedReason && r.ret);
    const failed = rows.filter((r) => r.failedReason);
    const lat = ok.map((r) => r.finishedOn - r.timestamp).sort((a, b) => a - b);
    const run = ok.map((r) => r.finishedOn - r.processedOn).sort((a, b) => a - b);
    const first = Math.min(...rows.map((r) => r.processedOn));
    const lastDone = Math.max(...rows.map((r) => r.finishedOn));
    const hits = ok.filter((r) => r.ret.cached).length;
    const chunks = ok.filter((r) => !r.ret.cached).reduce((a, r) => a + r.ret.chunks, 0);
    const words = ok.filter((r) => !r.ret.cached).reduce((a, r) => a + r.ret.words, 0);
    const mem = memory();
    const rss = mem.workers.map((w) => w.rss).filter((x) => x != null);
    const hwm = mem.workers.map((w) => w.hwm).filter((x) => x != null);

    const L = (k, v) => console.log(`  ${k.padEnd(18)} ${v}`);
    console.log(`\nsummary (${fmt(rows.length)} jobs, ${mem.workers.length} workers, handler "document", figures from Bull's job hashes)`);
    L('total time', `${secs(wall)} from the first add to the last job done (adding took ${secs(addMs)})`);
    L('throughput', `${fmt((rows.length * 1000) / Math.max(1, lastDone - first))} jobs/s (first processedOn to last finishedOn, ${secs(lastDone - first)})`);
    if (lat.length) {
      L('latency', `p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms (add to done, finishedOn - timestamp; includes the queue backlog of a burst)`);
      L('processing', `p50 ${fmt(pct(run, 50))} ms, p99 ${fmt(pct(run, 99))} ms per job (taken to done, finishedOn - processedOn)`);
    }
    L('cache hits', `${fmt(hits)} of ${fmt(ok.length)} (${fmt((100 * hits) / Math.max(1, ok.length), 1)}%)`);
    L('chunks made', `${fmt(chunks)} chunks from ${fmt(words)} words (the ${fmt(ok.length - hits)} uncached jobs)`);
    L('failures', `${failed.length}`);
    if (rss.length)
      L('worker RSS', `${mb(Math.min(...rss))} - ${mb(Math.max(...rss))} now` +
          (hwm.length ? `, peak ${mb(Math.max(...hwm))} (VmHWM)` : '') +
          (mem.master != null ? `; master ${mb(mem.master)}` : ''));
    else L('worker RSS', 'not reported by `bullpen stats --json`');
    console.log(`  worker pids        ${mem.workers.map((w) => w.pid).join(' ')}`);

    if (failed.length) {
      for (const r of failed.slice(0, 5)) console.log(`  failed: ${r.failedReason}`);
      throw new DemoError(`${failed.length} of ${rows.length} jobs failed`);
    }
    if (rows.length !== JOBS) throw new DemoError(`expected ${JOBS} finished jobs, found ${rows.length}`);
  } finally {
    await q.close().catch(() => {});
  }
}

// Ctrl-C reaches the whole foreground group: leave at once, scripts/demo cleans up.
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]])
  process.on(sig, () => {
    if (TTY) process.stdout.write('\n');
    process.exit(code);
  });

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`\ndemo: ${e instanceof DemoError ? e.message : e.stack || e}`);
    process.exit(1);
  },
);
