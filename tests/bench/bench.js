// tests/bench/bench.js -- bullpen and Bull side by side on one TLS redis-server (started by
// scripts/bench through tests/support/redis.sh), in alternating rounds, written up as one
// Markdown report. Every throughput figure comes from Bull's own job hashes (first
// processedOn to last finishedOn), so both sides are timed by the same clock and rules.
//
// Environment (set by scripts/bench): BULLPEN_BIN, BP_TLS_PORT, BP_CERTS, BP_TMP, BP_OUT
// (report file), and the sizes: BP_BENCH_JOBS (echo jobs per run, 20000), BP_BENCH_ROUNDS
// (2), BP_BENCH_DRIP (jobs for the pickup latency, 100) and BP_BENCH_GAP_MS (50),
// BP_BENCH_DOCS (100 KB documents, 200; 0 = skip), BP_BENCH_CEILING (redis-benchmark
// requests, 100000), BP_BENCH_BULLPEN ("1,2,8,16"), BP_BENCH_BULL ("1x1,1x50,2x1,2x50":
// processes x concurrency), BP_BENCH_IDLE_S (60: the idle window, 0 = skip) and
// BP_BENCH_IDLE_WORKERS (4: bullpen workers and Bull processes at concurrency 1 left idle),
// BP_BENCH_PIN (1: one more round of every contender with Redis pinned to the last core and
// the contender to the others, so Redis CPU per job is Redis's own; 0 = skip).
//
// Client commands are counted where they are sent: bullpen's master and workers log their
// totals when they stop, bull_worker.js counts every ioredis command it sends. The idle
// window counts with MONITOR (commands run inside scripts excluded). Worker CPU is the
// contender's processes' utime + stime (/proc) from ready to the last job completed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const Queue = require('bull');
const Redis = require('ioredis');

const env = process.env;
const N = Number(env.BP_BENCH_JOBS || 20000);
const ROUNDS = Number(env.BP_BENCH_ROUNDS || 2);
const DRIP = Number(env.BP_BENCH_DRIP || 100);
const GAP = Number(env.BP_BENCH_GAP_MS || 50);
const DOCS = Number(env.BP_BENCH_DOCS || 200);
const CEIL_N = Number(env.BP_BENCH_CEILING || 100000);
const BULLPEN_WORKERS = (env.BP_BENCH_BULLPEN || '1,2,8,16').split(',').map(Number);
const BULL_SHAPES = (env.BP_BENCH_BULL || '1x1,1x50,2x1,2x50').split(',').map((s) => s.split('x').map(Number));
const IDLE_S = Number(env.BP_BENCH_IDLE_S ?? 60);
const IDLE_WORKERS = Number(env.BP_BENCH_IDLE_WORKERS || 4);
const PIN = env.BP_BENCH_PIN !== '0' && os.cpus().length >= 2;
const QUEUE = 'bench';
const TMP = env.BP_TMP;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const redisOpts = {
  host: '127.0.0.1',
  port: Number(env.BP_TLS_PORT),
  tls: { ca: fs.readFileSync(`${env.BP_CERTS}/ca.crt`), servername: 'localhost' },
};
const rc = new Redis(redisOpts);
const producer = new Queue(QUEUE, { redis: redisOpts });
const key = (s) => `bull:${QUEUE}:${s}`;
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- Redis statistics -------------------------------------------------------------------
const IGNORED = new Set(['info', 'config|resetstat', 'config', 'zcard', 'flushdb']); // ours, not theirs
async function redisStats() {
  const cpu = await rc.info('cpu');
  const cs = await rc.info('commandstats');
  const num = (re) => Number((cpu.match(re) || [0, 0])[1]);
  const calls = {};
  for (const m of cs.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!IGNORED.has(m[1])) calls[m[1]] = Number(m[2]);
  }
  return { cpuUs: (num(/used_cpu_sys:([\d.]+)/) + num(/used_cpu_user:([\d.]+)/)) * 1e6, calls };
}
function statsDelta(a, b, jobs) {
  const calls = {};
  let total = 0;
  for (const [c, n] of Object.entries(b.calls)) {
    const d = n - (a.calls[c] || 0);
    if (d > 0) { calls[c] = d / jobs; total += d; }
  }
  const scripts = (calls.evalsha || 0) + (calls.eval || 0);
  return { cpuPerJob: (b.cpuUs - a.cpuUs) / jobs, cmdsPerJob: total / jobs, scriptsPerJob: scripts, mix: calls };
}

// ---- memory -------------------------------------------------------------------------------
function mem(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (f) => Number((s.match(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm')) || [0, 0])[1]);
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch (e) {
    return { rss: 0, pss: 0 };
  }
}
function childrenOf(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch (e) {
    return [];
  }
}

// ---- CPU time of processes and pinning ----------------------------------------------------
const CLK_TCK = (() => { try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100; } catch (e) { return 100; } })();
function cpuUs(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t += (Number(f[11]) + Number(f[12])) * (1e6 / CLK_TCK);
    } catch (e) { /* gone */ }
  }
  return t;
}
let pinTo = null; // the contender's cpus ("0") while Redis has the last one, else null
function spawnPinned(cmd, args, opts) {
  return pinTo === null ? spawn(cmd, args, opts) : spawn('taskset', ['-c', pinTo, cmd, ...args], opts);
}
async function pinRedis(on) {
  const pid = Number(((await rc.info('server')).match(/process_id:(\d+)/) || [0, 0])[1]);
  const n = os.cpus().length;
  execFileSync('taskset', ['-apc', on ? String(n - 1) : `0-${n - 1}`, String(pid)], { stdio: 'ignore' });
  pinTo = on ? (n === 2 ? '0' : `0-${n - 2}`) : null;
}

// ---- the contenders ------------------------------------------------------------------------
function writeConf(workers, handlers) {
  const file = path.join(TMP, `bench-${workers}.conf`);
  fs.writeFileSync(file, `redis = {
  url = "rediss://localhost:${env.BP_TLS_PORT}/0";
  tls = { ca_file = "${env.BP_CERTS}/ca.crt"; };
};
queues = ( { name = "${QUEUE}"; workers = ${workers};
  handlers = ( ${handlers || '{ job = "*"; type = "echo"; }'} ); } );
log = { level = "notice"; };
`);
  return file;
}

// Start bullpen; resolves once "pool ready" is logged, with the time it took.
let runNo = 0;
function startBullpen(workers, handlers) {
  const conf = writeConf(workers, handlers);
  const logFile = path.join(TMP, `bullpen-${workers}-${++runNo}.log`);
  const t0 = process.hrtime.bigint();
  const child = spawnPinned(env.BULLPEN_BIN, ['run', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bullpen ${workers}: no "pool ready" in 60 s (${logFile})`)), 60000);
    child.stderr.on('data', (d) => {
      out.write(d);
      buf += d;
      if (buf.includes('pool ready')) {
        buf = '';
        clearTimeout(timer);
        resolve({
          kind: 'bullpen', label: `bullpen ${workers}w`, child, readyMs: Number(process.hrtime.bigint() - t0) / 1e6, pids: () => [child.pid, ...childrenOf(child.pid)],
          // after stop: what the master and every worker said they sent
          commands: () => [...fs.readFileSync(logFile, 'utf8').matchAll(/(?:sent (\d+) Redis commands|(\d+) Redis commands\s+sent)/g)].reduce((a, m) => a + Number(m[1] || m[2]), 0),
        });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bullpen exited with ${code} (${logFile})`)); });
  });
}

async function startBull(procs, conc) {
  const t0 = process.hrtime.bigint();
  const kids = [];
  for (let i = 0; i < procs; i++) {
    const child = spawnPinned(process.execPath, [path.join(__dirname, 'bull_worker.js'), QUEUE, String(conc)], { stdio: ['ignore', 'pipe', 'inherit'], env });
    child.out = '';
    kids.push(new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => { child.out += d; if (String(d).includes('ready')) resolve(child); });
      child.on('exit', (code) => reject(new Error(`bull worker exited with ${code}`)));
    }));
  }
  const children = await Promise.all(kids);
  return {
    kind: 'bull', label: `Bull ${procs}p x c${conc}`, children, readyMs: Number(process.hrtime.bigint() - t0) / 1e6, pids: () => children.map((c) => c.pid),
    commands: () => children.reduce((a, c) => a + Number((c.out.match(/commands (\d+)/) || [0, NaN])[1]), 0),
  };
}

async function stop(w) {
  const kids = w.kind === 'bullpen' ? [w.child] : w.children;
  await Promise.all(kids.map((c) => new Promise((resolve) => {
    c.removeAllListeners('exit');
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const t = setTimeout(() => c.kill('SIGKILL'), 20000);
    c.on('exit', () => { clearTimeout(t); resolve(); });
    c.kill('SIGTERM');
  })));
}

// ---- one measured run ---------------------------------------------------------------------
async function fill(n, name, dataOf) {
  for (let done = 0; done < n;) {
    const k = Math.min(1000, n - done);
    const jobs = [];
    for (let i = 0; i < k; i++) jobs.push({ name, data: dataOf(done + i) });
    await producer.addBulk(jobs);
    done += k;
  }
}
async function waitCompleted(n, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const c = await rc.zcard(key('completed'));
    if (c >= n) return;
    if (Date.now() > end) throw new Error(`only ${c} of ${n} jobs completed in ${timeoutMs} ms`);
    await sleep(50);
  }
}
// Bull's own timestamps of every completed job
async function timestamps() {
  const ids = await rc.zrange(key('completed'), 0, -1);
  const p = rc.pipeline();
  for (const id of ids) p.hmget(key(id), 'timestamp', 'processedOn', 'finishedOn');
  return (await p.exec()).map(([, f]) => f.map(Number));
}
const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function throughputRun(start, n) {
  await rc.flushdb();
  await fill(n, 'echo', (i) => ({ i, s: 'bench' }));
  const before = await redisStats();
  const w = await start();
  const pids = w.pids();
  const cpu0 = cpuUs(pids);
  await waitCompleted(n, 600000);
  const after = await redisStats();
  const cpu1 = cpuUs(pids);
  const m = w.pids().map(mem);
  await stop(w);
  const ts = await timestamps();
  const first = Math.min(...ts.map((t) => t[1]));
  const last = Math.max(...ts.map((t) => t[2]));
  return {
    label: w.label, kind: w.kind, jobsPerS: (n * 1000) / Math.max(1, last - first), readyMs: w.readyMs, stats: statsDelta(before, after, n), mem: m,
    workerCpuPerJob: (cpu1 - cpu0) / n, clientCmdsPerJob: w.commands() / n,
  };
}

// Idle: the contender started on an empty queue, left alone; after a settling time, every
// client command for IDLE_S seconds is counted with MONITOR (lines from inside scripts
// excluded). Redis CPU over the window too.
async function idleRun(start) {
  await rc.flushdb();
  const w = await start();
  await sleep(5000); // start-up commands are not idle cost
  const monBase = new Redis(redisOpts);
  const mon = await monBase.monitor();
  const byCmd = {};
  let n = 0;
  mon.on('monitor', (time, args, source) => {
    if (source === 'lua') return;
    const c = String(args[0]).toLowerCase();
    byCmd[c] = (byCmd[c] || 0) + 1;
    n++;
  });
  const before = await redisStats();
  const t0 = Date.now();
  await sleep(IDLE_S * 1000);
  const after = await redisStats();
  const secs = (Date.now() - t0) / 1000;
  mon.disconnect();
  monBase.disconnect();
  await stop(w);
  for (const c of ['info']) { n -= byCmd[c] || 0; delete byCmd[c]; } // this script's own
  return { label: w.label, perS: n / secs, perDay: (n / secs) * 86400, secs, byCmd, redisCpuPerS: (after.cpuUs - before.cpuUs) / secs };
}

async function latencyRun(start) {
  await rc.flushdb();
  const w = await start();
  await sleep(1500); // idle: every worker is blocked in its pull
  for (let i = 0; i < DRIP; i++) {
    await producer.add('echo', { i });
    await sleep(GAP);
  }
  await waitCompleted(DRIP, 60000);
  await stop(w);
  const lat = (await timestamps()).map((t) => t[1] - t[0]).sort((a, b) => a - b);
  return { label: w.label, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] };
}

// ---- the floor: LPUSH -> BRPOP between two Node processes over TLS ------------------------
async function floor() {
  const consumer = spawn(process.execPath, [path.join(__dirname, 'floor.js'), 'consume', String(DRIP), String(N)], { stdio: ['ignore', 'pipe', 'inherit'], env });
  let out = '';
  consumer.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => { const t = setInterval(() => { if (out.includes('ready')) { clearInterval(t); r(); } }, 20); });
  await rc.del('floor:list');
  for (let i = 0; i < DRIP; i++) {
    await rc.lpush('floor:list', String(process.hrtime.bigint()));
    await sleep(GAP);
  }
  // throughput: N items pushed at once, popped one BRPOP at a time
  const p = rc.pipeline();
  for (let i = 0; i < N; i++) p.lpush('floor:list', '0');
  await p.exec();
  await new Promise((r) => consumer.on('exit', r));
  return JSON.parse(out.slice(out.indexOf('{')));
}

// ---- the ceiling: redis-benchmark with one bullpen job's command mix per request ----------
const ARGS = {
  hset: ['h', 'f', 'v'], hmset: ['h', 'f', 'v', 'g', 'w'], hget: ['h', 'f'], hmget: ['h', 'f', 'g'], hgetall: ['h'],
  hdel: ['h', 'x'], hincrby: ['h', 'n', '1'], hexists: ['h', 'f'], set: ['k', 'v', 'PX', '30000'], get: ['k'],
  del: ['k2'], exists: ['k'], pexpire: ['k', '30000'], incr: ['n'], sadd: ['s', 'x'], srem: ['s', 'x'],
  sismember: ['s', 'x'], smembers: ['s'], lpush: ['l', 'x'], rpush: ['l', 'x'], rpoplpush: ['l', 'l2'],
  lrem: ['l2', '-1', 'x'], llen: ['l'], lrange: ['l2', '0', '0'], lindex: ['l', '0'], zadd: ['z', '1', 'x'],
  zrem: ['z', 'y'], zscore: ['z', 'x'], zrangebyscore: ['z', '0', '1', 'LIMIT', '0', '1'],
  zremrangebyrank: ['z', '0', '-2000'], zremrangebyscore: ['z', '0', '0'], zcount: ['z', '0', '1'],
  publish: ['bench:ceiling:ch', '{"jobId":"1","val":"{}"}'], rpop: ['l'], lpop: ['l'], ltrim: ['l2', '0', '1000'],
};
async function ceiling(mix, clients) {
  const lines = [];
  const skipped = [];
  for (const [cmd, perJob] of Object.entries(mix)) {
    if (cmd === 'evalsha' || cmd === 'eval' || cmd.startsWith('script') || cmd === 'brpoplpush') continue;
    const k = Math.round(perJob);
    if (k < 1) continue;
    if (!ARGS[cmd]) { skipped.push(cmd); continue; }
    const a = ARGS[cmd].map((x) => (/^[a-z]\d?$/.test(x) ? `'bench:ceiling:${x}'` : `'${x}'`));
    for (let i = 0; i < k; i++) lines.push(`redis.call('${cmd}', ${a.join(', ')})`);
  }
  const sha = await rc.script('load', `${lines.join('\n')}\nreturn 0`);
  const out = execFileSync('redis-benchmark', ['--tls', '--cacert', `${env.BP_CERTS}/ca.crt`, '-h', '127.0.0.1', '-p', env.BP_TLS_PORT,
    '-c', String(clients), '-n', String(CEIL_N), '-q', 'EVALSHA', sha, '0'], { encoding: 'utf8' });
  const rps = Number((out.match(/([\d.]+) requests per second/) || [0, 0])[1]);
  return { rps, calls: lines.length, skipped };
}

// ---- the document job ---------------------------------------------------------------------
async function documentRun() {
  await rc.flushdb();
  const words = 'the quick brown fox jumps over a lazy dog while seven workers share one queue'.split(' ');
  const doc = (i) => {
    let s = `Document ${i}. `;
    for (let k = 0; s.length < 100 * 1024; k++) s += words[(k * 7 + i) % words.length] + ((k % 13 === 12) ? '. ' : ' ');
    return { text: s };
  };
  await fill(DOCS, 'doc', doc);
  const workers = os.cpus().length;
  const w = await startBullpen(workers, '{ job = "doc"; type = "document"; }, { job = "*"; type = "echo"; }');
  await waitCompleted(DOCS, 600000);
  await stop(w);
  const ts = await timestamps();
  const first = Math.min(...ts.map((t) => t[1]));
  const last = Math.max(...ts.map((t) => t[2]));
  const per = ts.map((t) => t[2] - t[1]).sort((a, b) => a - b);
  const s = (last - first) / 1000;
  return { workers, docs: DOCS, jobsPerS: DOCS / s, mbPerS: (DOCS * 100) / 1024 / s, p50: pct(per, 0.5) };
}

// ---- report -------------------------------------------------------------------------------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const f0 = (x) => (x === undefined || Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2));

function facts() {
  const v = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]; } catch (e) { return '?'; } };
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.cpus().length} cores, ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load ${os.loadavg().map(f2).join(' ')} at the end`,
    `- kernel: ${os.release()}`,
    `- Redis: ${v('redis-server', ['--version'])} (TLS, one server, loopback)`,
    `- OpenSSL: ${v('openssl', ['version'])}`,
    `- Node: ${process.version}, bull ${require('bull/package.json').version}, ioredis ${require('ioredis/package.json').version}`,
    `- bullpen: ${v(env.BULLPEN_BIN, ['version'])} (${env.BP_BUILD_TYPE || 'release preset'})`,
    `- sizes: ${N} echo jobs per run, ${ROUNDS} alternating rounds, pickup latency over ${DRIP} jobs ${GAP} ms apart, ${DOCS} documents of 100 KB, ceiling ${CEIL_N} requests`,
  ].join('\n');
}

async function main() {
  const T0 = Date.now();
  const contenders = [
    ...BULLPEN_WORKERS.map((n) => ({ label: `bullpen ${n}w`, start: () => startBullpen(n) })),
    ...BULL_SHAPES.map(([p, c]) => ({ label: `Bull ${p}p x c${c}`, start: () => startBull(p, c) })),
  ];
  const results = {};
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      log(`round ${r + 1}: ${c.label}, ${N} echo jobs`);
      const res = await throughputRun(c.start, N);
      log(`  ${f0(res.jobsPerS)} jobs/s, ready in ${f0(res.readyMs)} ms, ${f1(res.stats.cmdsPerJob)} cmds/job, ${f0(res.stats.cpuPerJob)} us Redis CPU/job`);
      (results[c.label] = results[c.label] || []).push(res);
    }
  }
  const pinned = {};
  if (PIN) {
    await pinRedis(true);
    try {
      for (const c of contenders) {
        log(`pinned: Redis on cpu ${os.cpus().length - 1}, ${c.label} on cpu ${pinTo}, ${N} echo jobs`);
        const res = await throughputRun(c.start, N);
        log(`  ${f0(res.jobsPerS)} jobs/s, ${f0(res.stats.cpuPerJob)} us Redis CPU/job, ${f1(res.workerCpuPerJob)} us worker CPU/job`);
        pinned[c.label] = res;
      }
    } finally {
      await pinRedis(false);
    }
  }
  const idle = [];
  if (IDLE_S > 0) {
    for (const c of [{ label: `bullpen ${IDLE_WORKERS}w`, start: () => startBullpen(IDLE_WORKERS) }, { label: `Bull ${IDLE_WORKERS}p x c1`, start: () => startBull(IDLE_WORKERS, 1) }]) {
      log(`idle: ${c.label}, ${IDLE_S} s`);
      const res = await idleRun(c.start);
      log(`  ${f2(res.perS)} client commands/s: ${JSON.stringify(res.byCmd)}`);
      idle.push(res);
    }
  }
  const lat = [];
  for (const c of [contenders[0], contenders.find((x) => x.label === 'bullpen 8w'), ...contenders.filter((x) => x.label.startsWith('Bull 1p'))]) {
    if (!c) continue;
    log(`pickup latency: ${c.label}`);
    lat.push(await latencyRun(c.start));
  }
  log('floor: LPUSH -> BRPOP between two Node processes');
  const fl = await floor();
  const biggest = `bullpen ${Math.max(...BULLPEN_WORKERS)}w`;
  const mix = results[biggest][0].stats.mix;
  log(`ceiling: redis-benchmark with ${biggest}'s per-job command mix`);
  const ceil = await ceiling(mix, Math.max(...BULLPEN_WORKERS));
  let doc = null;
  if (DOCS > 0) {
    log(`document job: ${DOCS} x 100 KB`);
    doc = await documentRun();
  }

  // ---- the Markdown
  const rows = Object.entries(results).map(([label, rs]) => ({
    label, kind: rs[0].kind, jobsPerS: median(rs.map((x) => x.jobsPerS)), all: rs.map((x) => x.jobsPerS),
    ready: median(rs.map((x) => x.readyMs)), cpu: median(rs.map((x) => x.stats.cpuPerJob)),
    cmds: median(rs.map((x) => x.stats.cmdsPerJob)), scripts: median(rs.map((x) => x.stats.scriptsPerJob)), mem: rs[rs.length - 1].mem,
    client: median(rs.map((x) => x.clientCmdsPerJob)), wcpu: median(rs.map((x) => x.workerCpuPerJob)),
    pinCpu: pinned[label] ? pinned[label].stats.cpuPerJob : NaN, pinJobs: pinned[label] ? pinned[label].jobsPerS : NaN,
  }));
  const bullBest = Math.max(...rows.filter((x) => x.kind === 'bull').map((x) => x.jobsPerS));
  const md = [];
  md.push(`# bullpen vs Bull: echo jobs over TLS\n`, facts(), '');
  md.push(`## Throughput (${N} no-op jobs added by Bull's addBulk; median of ${ROUNDS} alternating rounds)\n`);
  md.push('jobs/s = jobs / (last finishedOn - first processedOn), from Bull\'s own job hashes. Redis CPU and commands are INFO cpu / commandstats deltas over the run (start-up included, our own polling excluded), counting commands run inside scripts.\n');
  md.push('| contender | jobs/s | each round | x Bull\'s best | client cmds/job | Redis CPU µs/job | Redis CPU µs/job, pinned | jobs/s, pinned | worker CPU µs/job | Redis cmds/job (in scripts too) | script calls/job | ready in (ms) |');
  md.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of rows) {
    md.push(`| ${x.label} | ${f0(x.jobsPerS)} | ${x.all.map(f0).join(' / ')} | ${f2(x.jobsPerS / bullBest)} | ${f2(x.client)} | ${f1(x.cpu)} | ${f1(x.pinCpu)} | ${f0(x.pinJobs)} | ${f1(x.wcpu)} | ${f1(x.cmds)} | ${f2(x.scripts)} | ${f0(x.ready)} |`);
  }
  md.push(`\n"client cmds/job": commands the contender sent (counted by the senders), per job. "pinned": one more round with Redis alone on cpu ${os.cpus().length - 1} and the contender on the other core(s) (taskset), so Redis CPU per job is Redis's own cost. "worker CPU": utime + stime of every process of the contender (bullpen: master and workers), from ready to the last job completed, per job.\n`);
  if (idle.length) {
    md.push(`## Idle cost (${IDLE_S} s with an empty queue, after 5 s of settling; MONITOR, commands inside scripts excluded)\n`);
    md.push('| contender | client commands/s | per worker-process and s | per day | Redis CPU ms/s | commands in the window |');
    md.push('|---|---:|---:|---:|---:|---|');
    for (const x of idle) md.push(`| ${x.label} | ${f2(x.perS)} | ${(x.perS / IDLE_WORKERS).toFixed(3)} | ${f0(x.perDay)} | ${f2(x.redisCpuPerS / 1000)} | ${Object.entries(x.byCmd).map(([c, k]) => `${k} ${c}`).join(', ')} |`);
    md.push('');
  }
  md.push('\n"ready in": bullpen from exec to its "pool ready" log line (every worker\'s three connections up); Bull from spawn to queue.isReady() in every process.\n');
  md.push('## Memory at the end of the last round (/proc/PID/smaps_rollup)\n');
  md.push('| contender | processes | RSS total (MiB) | PSS total (MiB) | first process RSS / PSS (MiB) | others, mean RSS / PSS (MiB) |');
  md.push('|---|---:|---:|---:|---|---|');
  for (const x of rows) {
    const m = x.mem;
    const sum = (k) => m.reduce((a, b) => a + b[k], 0) / 1024;
    const rest = m.slice(1);
    const mean = (k) => (rest.length ? rest.reduce((a, b) => a + b[k], 0) / rest.length / 1024 : NaN);
    md.push(`| ${x.label} | ${m.length} | ${f1(sum('rss'))} | ${f1(sum('pss'))} | ${f1(m[0].rss / 1024)} / ${f1(m[0].pss / 1024)} | ${rest.length ? `${f1(mean('rss'))} / ${f1(mean('pss'))}` : '-'} |`);
  }
  md.push('\nFor bullpen the first process is the master and the others its workers; for Bull every process is a worker.\n');
  md.push(`## Pickup latency with idle workers (${DRIP} jobs added one at a time, ${GAP} ms apart)\n`);
  md.push('latency = processedOn - timestamp (job added -> taken), ms, from Bull\'s job hashes (1 ms resolution).\n');
  md.push('| contender | p50 (ms) | p99 (ms) | max (ms) |');
  md.push('|---|---:|---:|---:|');
  for (const x of lat) md.push(`| ${x.label} | ${x.p50} | ${x.p99} | ${x.max} |`);
  md.push(`| floor: LPUSH -> BRPOP, two Node processes (µs clock) | ${f2(fl.p50)} | ${f2(fl.p99)} | ${f2(fl.max)} |`);
  md.push(`\nThe floor's consumer also popped ${N} pre-pushed items one BRPOP at a time: ${f0(fl.rate)} pops/s (one round trip per item, Node + ioredis).\n`);
  md.push(`## Ceiling (redis-benchmark, ${Math.max(...BULLPEN_WORKERS)} clients, ${CEIL_N} requests)\n`);
  md.push(`Each request is one EVALSHA of a script making the ${ceil.calls} Redis calls one ${biggest} job made on average (from its commandstats: ${Object.entries(mix).map(([c, v]) => `${c} ${f2(v)}`).join(', ')}), on fixed keys: the rate Redis itself allows for this work. ${ceil.skipped.length ? `Not modelled: ${ceil.skipped.join(', ')}.` : ''}\n`);
  md.push(`| ceiling | ${f0(ceil.rps)} requests/s = jobs/s | best bullpen: ${f0(Math.max(...rows.filter((x) => x.kind === 'bullpen').map((x) => x.jobsPerS)))} jobs/s |`);
  md.push('|---|---|---|\n');
  if (doc) {
    md.push(`## Document job (bullpen only: ${doc.docs} distinct 100 KB text documents, ${doc.workers} workers)\n`);
    md.push('| jobs/s | MB/s of input | p50 job time (ms) |');
    md.push('|---:|---:|---:|');
    md.push(`| ${f1(doc.jobsPerS)} | ${f2(doc.mbPerS)} | ${doc.p50} |\n`);
  }
  md.push(`Whole run: ${f0((Date.now() - T0) / 1000)} s.`);
  const text = md.join('\n') + '\n';
  fs.writeFileSync(env.BP_OUT, text);
  process.stdout.write(text);
}

main().then(async () => {
  await producer.close();
  rc.disconnect();
}).catch((e) => {
  console.error(`bench.js: ${e.stack || e}`);
  process.exit(1);
});
