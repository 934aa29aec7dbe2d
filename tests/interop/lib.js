// tests/interop/lib.js -- shared by the interop scripts: a Bull queue on the test redis over
// TLS, the probe as a function, polling and event helpers. Every wait has a deadline.
'use strict';
const fs = require('fs');
const assert = require('assert');
const { execFileSync } = require('child_process');
const Queue = require('bull');

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set: run through the test_*.sh wrapper`);
  return process.env[k];
};

function redisOpts() {
  return {
    host: '127.0.0.1',
    port: Number(env('BP_TLS_PORT')),
    tls: { ca: fs.readFileSync(`${env('BP_CERTS')}/ca.crt`), servername: 'localhost' },
  };
}

function queue(name, settings) {
  return new Queue(name || env('BP_QUEUE'), { redis: redisOpts(), settings });
}

// probe(['-l', '500'], 'take-next') -> stdout trimmed; throws on a non-zero exit.
function probe(opts, ...args) {
  const argv = ['-c', env('BP_CONF'), '-q', env('BP_QUEUE'), ...opts, ...args];
  return execFileSync(env('BP_PROBE'), argv, { encoding: 'utf8', timeout: 120000 }).trim();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Record every global event of q; ready() resolves once the subscriptions are live (a
// throw-away job's waiting event arrived).
function recorder(q) {
  const ev = [];
  for (const name of ['waiting', 'active', 'progress', 'completed', 'failed', 'stalled']) {
    q.on(`global:${name}`, (id, arg) => ev.push({ name, id: String(id), arg }));
  }
  ev.of = (name, id) => ev.filter((e) => e.name === name && (id === undefined || e.id === String(id)));
  return ev;
}

async function subscribed(q, ev) {
  // Bull subscribes lazily and asynchronously: wait until a probe event comes back
  await q.isReady();
  const marker = `marker-${process.pid}`;
  await until('subscriptions', async () => {
    await q.client.publish(`${q.keyPrefix}:${q.name}:waiting@x`, marker);
    await sleep(100);
    return ev.of('waiting', marker).length > 0;
  });
}

module.exports = { assert, queue, probe, sleep, until, recorder, subscribed, env };
