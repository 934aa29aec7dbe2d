// tests/bench/floor.js -- the floor of the pickup latency: a bare BRPOP consumer in its own
// Node process, over TLS, against bench.js pushing timestamps (process.hrtime, CLOCK_MONOTONIC,
// comparable across processes) with LPUSH.
//   node floor.js consume DRIP N
// prints "ready", pops DRIP timestamped items (latency = pop time - push time), then N plain
// items one BRPOP at a time (the rate of one round trip per item), then one JSON line
// {"p50", "p99", "max" (ms), "rate" (pops/s)} and exits.
'use strict';
const fs = require('fs');
const Redis = require('ioredis');

const [, drip, n] = process.argv.slice(2).map(Number);
const r = new Redis({
  host: '127.0.0.1',
  port: Number(process.env.BP_TLS_PORT),
  tls: { ca: fs.readFileSync(`${process.env.BP_CERTS}/ca.crt`), servername: 'localhost' },
});

async function main() {
  await r.ping();
  console.log('ready');
  const lat = [];
  for (let i = 0; i < drip; i++) {
    const [, v] = await r.brpop('floor:list', 0);
    lat.push(Number(process.hrtime.bigint() - BigInt(v)) / 1e6);
  }
  lat.sort((a, b) => a - b);
  const [, first] = await r.brpop('floor:list', 0);
  void first;
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < n; i++) await r.brpop('floor:list', 0);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  console.log(JSON.stringify({ p50: p(0.5), p99: p(0.99), max: lat[lat.length - 1], rate: (n - 1) / s }));
  r.disconnect();
}
main().catch((e) => {
  console.error(`floor.js: ${e.stack || e}`);
  process.exit(1);
});
