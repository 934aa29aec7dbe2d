// tests/bench/bull_worker.js -- Bull's own Node worker for the side-by-side benchmark:
//   node bull_worker.js QUEUE CONCURRENCY
// processes "echo" jobs (returns the data, like bullpen's echo handler) and "*" the same way,
// with Bull's default settings. Prints "ready" once its connections are up; SIGTERM closes
// the queue (waiting for running jobs), prints "commands N" (every Redis command its ioredis
// clients sent, counted where they are sent, pipelined ones each) and exits 0. Redis from
// BP_TLS_PORT / BP_CERTS.
'use strict';
const fs = require('fs');
const Redis = require('ioredis');

let commands = 0;
const send = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function countedSend(...args) {
  commands++;
  return send.apply(this, args);
};
const Queue = require('bull');

const [queueName, conc] = process.argv.slice(2);
const q = new Queue(queueName, {
  redis: {
    host: '127.0.0.1',
    port: Number(process.env.BP_TLS_PORT),
    tls: { ca: fs.readFileSync(`${process.env.BP_CERTS}/ca.crt`), servername: 'localhost' },
  },
});

q.process('*', Number(conc), async (job) => job.data);
q.isReady().then(() => console.log('ready'));
process.on('SIGTERM', () => {
  const done = (code) => {
    process.stdout.write(`commands ${commands}\n`, () => process.exit(code));
  };
  q.close().then(() => done(0), () => done(1));
});
