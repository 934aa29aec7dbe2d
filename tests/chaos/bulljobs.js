// tests/chaos/bulljobs.js -- the Bull (Node) side of the chaos tests and the benchmark: adds
// jobs with Bull's own queue.addBulk and audits every added id afterwards, so "lost" is
// counted by the producer's library, not by bullpen.
//
//   node bulljobs.js add   QUEUE N NAME DATA_JSON [OPTS_JSON]  appends the new ids to $BP_IDS
//   node bulljobs.js audit QUEUE [--echo]                      every id in $BP_IDS -> one JSON line
//   node bulljobs.js drip  QUEUE N GAP_MS NAME DATA_JSON       one add every GAP_MS (ids to $BP_IDS)
//
// Redis: 127.0.0.1:$BP_TLS_PORT over TLS, CA $BP_CERTS/ca.crt (tests/support/redis.sh), or
// $BP_REDIS_PORT for plain TCP. Batches of $BP_ADD_BATCH (default 1000) jobs per addBulk.
// Sentinel: $BP_SENTINELS ("port,port,...") and $BP_SENTINEL_NAME (ioredis in sentinel
// mode, TLS to sentinels and master). Cluster: $BP_CLUSTER_NODES ("port,port,...") with
// ioredis Cluster clients through Bull's createClient, and prefix $BP_PREFIX (e.g. {bull}).
// $BP_PRODUCER_WAIT=N: after each add, WAIT for N replicas (an add the master acknowledged
// but no replica had is what a kill -9 failover can lose; this is the producer's part).
// drip retries an add that fails (failover) and counts the retries ("add errors").
//
// audit prints {"added", "completed", "failed", "waiting", "active", "delayed", "paused",
// "lost", "duplicated", "reruns", "stalled", "retried", "mismatched", "lost_ids", ...}:
// lost = ids in none of completed, failed, wait, active, delayed, paused (or with no hash);
// duplicated = ids in two of those at once; reruns = stalledCounter > 0 or attemptsMade > 0;
// with --echo, mismatched = completed jobs whose returnvalue is not their data;
// latency_ms = {median, p95, max} of finishedOn - timestamp over the completed jobs.
// $BP_CRASHES (optional): a file with one job id per crash of a RUNNING job (the master's
// recovery lines); a job that failed "stalled more than allowable limit" after at most one
// such crash was failed by a crash that should have cost a rerun: it counts as lost
// (failed_after_one_crash), and crashes = the number of those lines.
'use strict';
const fs = require('fs');
const Queue = require('bull');

function tlsOpts() {
  return { ca: fs.readFileSync(`${process.env.BP_CERTS}/ca.crt`), servername: 'localhost' };
}

function ports(v) {
  return v.split(',').filter(Boolean).map((p) => ({ host: '127.0.0.1', port: Number(p) }));
}

function queueOpts() {
  const prefix = process.env.BP_PREFIX ? { prefix: process.env.BP_PREFIX } : {};
  if (process.env.BP_CLUSTER_NODES) {
    const Redis = require('ioredis');
    const nodes = ports(process.env.BP_CLUSTER_NODES);
    return {
      ...prefix,
      createClient: (type) =>
        new Redis.Cluster(nodes, {
          redisOptions: {
            tls: tlsOpts(),
            // Bull's blocking and subscriber clients must not give up on a command
            ...(type === 'client' ? {} : { maxRetriesPerRequest: null, enableReadyCheck: false }),
          },
          slotsRefreshTimeout: 2000,
        }),
    };
  }
  if (process.env.BP_SENTINELS) {
    return {
      ...prefix,
      redis: {
        sentinels: ports(process.env.BP_SENTINELS),
        name: process.env.BP_SENTINEL_NAME || 'mymaster',
        enableTLSForSentinelMode: true,
        sentinelTLS: tlsOpts(),
        tls: tlsOpts(),
        // After a switchover ioredis may reconnect to the old master, now a replica, when
        // the sentinel it asks has not yet heard of the failover; it then stays there and
        // every write fails with READONLY, for good. Reconnecting on READONLY (asking the
        // sentinels again) and resending the command is ioredis's documented remedy; an
        // application on Sentinel needs it too (README, "Past one Redis").
        reconnectOnError: (err) => (err.message.includes('READONLY') ? 2 : false),
      },
    };
  }
  return { ...prefix, redis: redisOpts() };
}

// The connection WAIT must go to: the master itself, or on a cluster the master serving
// the queue's slot (WAIT has no key for ioredis to route by).
function waitTarget(q) {
  if (!process.env.BP_CLUSTER_NODES) return q.client;
  const slot = require('cluster-key-slot')(`${q.keyPrefix}:${q.name}:id`);
  const nodes = q.client.slots[slot];
  return (nodes && q.client.connectionPool.getInstanceByKey(nodes[0])) || q.client;
}

// WAIT, bounded: a cluster node's own connection to a killed master queues the command
// until the node is back, which may be never. No reply within 5 s counts as a failed WAIT
// (drip retries it); the slot map is refreshed so the next try goes to the new master.
async function producerWait(q) {
  const n = Number(process.env.BP_PRODUCER_WAIT || 0);
  if (n > 0) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('WAIT: no reply within 5 s')), 5000);
    });
    try {
      const got = await Promise.race([waitTarget(q).wait(n, 2000), late]);
      if (got < n) throw new Error(`only ${got} of ${n} replicas acknowledged the add`);
    } catch (e) {
      if (process.env.BP_CLUSTER_NODES) q.client.refreshSlotsCache();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

function redisOpts() {
  if (process.env.BP_REDIS_PORT) return { host: '127.0.0.1', port: Number(process.env.BP_REDIS_PORT) };
  return {
    host: '127.0.0.1',
    port: Number(process.env.BP_TLS_PORT),
    tls: { ca: fs.readFileSync(`${process.env.BP_CERTS}/ca.crt`), servername: 'localhost' },
  };
}

function idsFile() {
  if (!process.env.BP_IDS) throw new Error('BP_IDS (the file of added ids) is not set');
  return process.env.BP_IDS;
}

async function add(q, n, name, data, opts) {
  const batch = Number(process.env.BP_ADD_BATCH || 1000);
  const out = fs.openSync(idsFile(), 'a');
  let added = 0;
  while (added < n) {
    const k = Math.min(batch, n - added);
    const jobs = [];
    for (let i = 0; i < k; i++) jobs.push({ name, data, opts: { ...opts } });
    const res = await q.addBulk(jobs);
    await producerWait(q);
    fs.writeSync(out, res.map((j) => j.id).join('\n') + '\n');
    added += k;
  }
  fs.closeSync(out);
  console.log(`added ${added} ${name} jobs`);
}

// Each add has its own jobId, so retrying an add whose reply was lost cannot make a second
// job. The first error of a run of failures is logged, then every 100th.
async function drip(q, n, gapMs, name, data) {
  const out = fs.openSync(idsFile(), 'a');
  let errors = 0;
  for (let i = 0; i < n; i++) {
    let j = null;
    for (let tries = 1; ; tries++) {
      try {
        if (j === null) j = await q.add(name, data, { jobId: `drip-${i}` });
        await producerWait(q);
        break;
      } catch (e) {
        errors++; // the add may or may not have happened: it is not counted as added
        if (tries % 100 === 1) console.error(`drip: drip-${i}, try ${tries}: ${e.message}`);
        if (j !== null && tries >= 20) break; // added, its replication never confirmed
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    fs.writeSync(out, `${j.id}\n`);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  fs.closeSync(out);
  console.log(`added ${n} ${name} jobs, one every ${gapMs} ms, ${errors} add errors retried`);
}

async function audit(q, echo) {
  const ids = fs.readFileSync(idsFile(), 'utf8').split('\n').filter(Boolean);
  const c = q.client;
  const k = (s) => `${q.keyPrefix}:${q.name}:${s}`;
  const [completed, failed, wait, active, delayed, paused] = await Promise.all([
    c.zrange(k('completed'), 0, -1),
    c.zrange(k('failed'), 0, -1),
    c.lrange(k('wait'), 0, -1),
    c.lrange(k('active'), 0, -1),
    c.zrange(k('delayed'), 0, -1),
    c.lrange(k('paused'), 0, -1),
  ]);
  const where = { completed, failed, waiting: wait, active, delayed, paused };
  const sets = {};
  for (const [s, list] of Object.entries(where)) sets[s] = new Set(list);
  const r = { added: ids.length, completed: 0, failed: 0, waiting: 0, active: 0, delayed: 0,
    paused: 0, lost: 0, duplicated: 0, reruns: 0, stalled: 0, retried: 0, mismatched: 0,
    lost_ids: [], duplicated_ids: [], failed_reasons: {}, crashes: 0, failed_after_one_crash: 0 };
  const crashes = {};
  if (process.env.BP_CRASHES && fs.existsSync(process.env.BP_CRASHES)) {
    for (const id of fs.readFileSync(process.env.BP_CRASHES, 'utf8').split('\n').filter(Boolean)) {
      crashes[id] = (crashes[id] || 0) + 1;
      r.crashes++;
    }
  }
  const pipe = c.pipeline();
  for (const id of ids) pipe.hmget(k(id), 'data', 'returnvalue', 'stalledCounter', 'attemptsMade', 'failedReason', 'name',
    'timestamp', 'finishedOn');
  const fields = await pipe.exec();
  const waits = []; // added -> finished, ms, of the completed jobs (Bull's own timestamps)
  ids.forEach((id, i) => {
    const [err, f] = fields[i];
    const places = Object.keys(sets).filter((s) => sets[s].has(id));
    if (err || f[5] === null || places.length === 0) {
      r.lost++;
      if (r.lost_ids.length < 20) r.lost_ids.push(id);
      return;
    }
    if (places.length > 1) {
      r.duplicated++;
      if (r.duplicated_ids.length < 20) r.duplicated_ids.push(`${id}:${places.join('+')}`);
    }
    r[places[0]]++;
    const stalled = Number(f[2] || 0);
    const attempts = Number(f[3] || 0);
    if (stalled > 0 || attempts > 0) r.reruns++;
    if (stalled > 0) r.stalled++;
    if (attempts > 0) r.retried++;
    if (places[0] === 'failed' && /stalled more than/.test(String(f[4])) && (crashes[id] || 0) <= 1) {
      r.failed_after_one_crash++;
      r.lost++;
      if (r.lost_ids.length < 20) r.lost_ids.push(`${id}(failed after ${crashes[id] || 0} crash)`);
    }
    if (places[0] === 'failed') {
      const reason = String(f[4]).replace(/\d+/g, 'N').slice(0, 80);
      r.failed_reasons[reason] = (r.failed_reasons[reason] || 0) + 1;
    }
    if (echo && places[0] === 'completed' && f[1] !== f[0]) r.mismatched++;
    if (places[0] === 'completed' && f[6] && f[7]) waits.push(Number(f[7]) - Number(f[6]));
  });
  waits.sort((a, b) => a - b);
  const pct = (p) => waits[Math.min(waits.length - 1, Math.floor((waits.length * p) / 100))];
  r.latency_ms = waits.length ? { median: pct(50), p95: pct(95), max: waits[waits.length - 1] } : null;
  console.log(JSON.stringify(r));
}

async function main() {
  const [cmd, queueName, ...rest] = process.argv.slice(2);
  const q = new Queue(queueName, queueOpts());
  try {
    if (cmd === 'add') {
      await add(q, Number(rest[0]), rest[1], JSON.parse(rest[2]), rest[3] ? JSON.parse(rest[3]) : {});
    } else if (cmd === 'drip') {
      await drip(q, Number(rest[0]), Number(rest[1]), rest[2], JSON.parse(rest[3]));
    } else if (cmd === 'audit') {
      await audit(q, rest.includes('--echo'));
    } else {
      throw new Error(`unknown command '${cmd}': add | drip | audit`);
    }
  } finally {
    // bounded: an ioredis Cluster client can wait forever on a node that was killed
    await Promise.race([q.close(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`bulljobs.js: ${e.stack || e}`);
  process.exit(1);
});
