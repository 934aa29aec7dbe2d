// tests/interop/url_env.js -- runs the README's producer snippet (extracted to
// $BP_SNIPPET by test_url_env.sh) against the test TLS Redis: the app's node-redis cache
// client and Bull's ioredis connections, all from REDIS_URL and REDIS_CA_FILE, while a
// bullpen pool reads the same REDIS_URL through redis.url_env. A document job added by
// Bull must come back done by bullpen. Then the claim the README makes about node-redis:
// its duplicate() cannot serve Bull.
'use strict';
const assert = require('assert');
const Queue = require('bull');

const deadline = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out: ${what}`)), ms))]);

async function main() {
  const { cache, documents } = require(process.env.BP_SNIPPET);

  await deadline(cache.connect(), 20000, 'cache connect');
  await cache.set('app:cache:greeting', 'hello', { EX: 60 });
  assert.strictEqual(await cache.get('app:cache:greeting'), 'hello');
  console.log('ok: the cache client (node-redis) works over TLS from REDIS_URL and the CA');

  const job = await documents.add('document', { text: 'One two three. Four five six seven.' });
  const result = await deadline(job.finished(), 60000, `job ${job.id} finished`);
  assert.strictEqual(result.words, 7, JSON.stringify(result));
  assert.strictEqual(result.chunks, 1);
  assert.strictEqual(result.cached, false);
  const done = await documents.getJob(job.id);
  assert.ok(done.finishedOn >= done.processedOn, 'processedOn and finishedOn set');
  const counts = await documents.getJobCounts();
  assert.strictEqual(counts.completed, 1, JSON.stringify(counts));
  console.log(`ok: job ${job.id} added by Bull (ioredis from REDIS_URL) was done by bullpen (url_env)`);

  // The README's warning: a node-redis connection cannot be Bull's client.
  const wrong = new Queue('wrong', { createClient: () => cache.duplicate() });
  let err = null;
  try {
    await deadline(wrong.add('x', {}), 10000, 'add through node-redis');
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'Bull accepted a node-redis duplicate() as its client');
  assert.match(String(err && err.message), /defineCommand|status|is not a function/, String(err));
  console.log(`ok: node-redis duplicate() refused by Bull: ${err.message}`);
  wrong.close().catch(() => {});

  await documents.close();
  await cache.quit();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
  }
);
