/**
 * `npm run bench:scale`: what many sessions and a second instance cost.
 *
 * - Redis memory per 100,000 logged-in sessions (BENCH_SCALE_SESSIONS): a real login through the fast IdP gives
 *   the session's contents; the app (bench/app.js with its /seed routes) then makes that many sessions of the same
 *   shape (user id and tokens fresh, same lengths), each written through its own store (oauthSession({ redis }))
 *   over HTTP; INFO memory's used_memory before and after, divided by the count.
 * - App heap per 10,000 in-process sessions (BENCH_SCALE_HEAP_SESSIONS): the same with oauthSession()'s
 *   MemoryStore, the app's heapUsed after a forced GC before and after.
 * - Logins/s and authenticated req/s with two instances on one Redis, against one instance alone, in the same run.
 *
 * Environment: BENCH_SECONDS per measurement (5), BENCH_CONNECTIONS (16), BENCH_LOGIN_CONCURRENCY (8).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { get, loginOnce, runLogins } from './driver.js';
import { CLIENT_ID, CLIENT_SECRET, log, resultsDir, startChild, startRedis } from './harness.js';

const SESSIONS = Number(process.env.BENCH_SCALE_SESSIONS ?? 100_000);
const HEAP_SESSIONS = Number(process.env.BENCH_SCALE_HEAP_SESSIONS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 8);

const app = (idp, redis, store, name, seed = true) =>
  startChild(
    'app.js',
    { BENCH_APP: JSON.stringify({ variant: 'ours', store, issuer: idp.issuer, redisUrl: redis.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, seed }) },
    name,
    ['--expose-gc'],
  );

async function seed(target, count) {
  const cookie = await loginOnce(target.baseURL);
  const captured = await get(`${target.baseURL}/seed/capture`, { cookie, accept: 'application/json' });
  const { bytes } = JSON.parse(captured.body);
  const r = await autocannon({ url: `${target.baseURL}/seed`, connections: 32, amount: count });
  if (r['2xx'] !== count) throw new Error(`seeding: ${r['2xx']} of ${count} sessions written (${r.non2xx} other answers, ${r.errors} errors)`);
  return bytes;
}

const usedMemory = async (redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

async function throughput(apps, cookies) {
  const logins = await Promise.all(apps.map((a) => runLogins(a.baseURL, { concurrency: LOGIN_CONCURRENCY, durationMs: SECONDS * 1000 })));
  const reads = await Promise.all(
    apps.map((a, k) => {
      let i = 0;
      return autocannon({
        url: a.baseURL,
        connections: CONNECTIONS,
        duration: SECONDS,
        requests: [{ method: 'GET', path: '/me', setupRequest: (req) => ({ ...req, headers: { ...req.headers, accept: 'application/json', cookie: cookies[k][i++ % cookies[k].length] } }) }],
      });
    }),
  );
  return {
    loginsPerSecond: logins.reduce((n, r) => n + r.ok / (r.ms / 1000), 0),
    loginErrors: logins.reduce((n, r) => n + r.errors, 0),
    readsPerSecond: reads.reduce((n, r) => n + r['2xx'] / r.duration, 0),
    readErrors: reads.reduce((n, r) => n + r.non2xx + r.errors, 0),
  };
}

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  const redis = await startRedis();
  const idp = await startChild('fast-idp.js', { BENCH_CLIENT_ID: CLIENT_ID, BENCH_CLIENT_SECRET: CLIENT_SECRET }, 'fast-idp');
  const children = [idp];
  try {
    log(`Redis memory: ${SESSIONS} sessions through oauthSession({ redis })`);
    const writer = await app(idp, redis, 'redis', 'scale-redis');
    children.push(writer);
    await loginOnce(writer.baseURL);
    await redis.client.flushall();
    const before = await usedMemory(redis.client);
    const sessionJson = await seed(writer, SESSIONS);
    const after = await usedMemory(redis.client);
    const keys = await redis.client.dbsize();
    const [sample] = await redis.client.keys('*').then((ks) => ks.slice(0, 1));
    const sampleBytes = await redis.client.strlen(sample);
    const sampleUsage = await redis.client.call('MEMORY', 'USAGE', sample);
    const redisMemory = { sessions: SESSIONS, keys, usedBefore: before, usedAfter: after, perSession: (after - before) / keys, sampleBytes, sampleUsage, sessionJson };
    log(`  ${keys} keys, ${((after - before) / 2 ** 20).toFixed(1)} MiB, ${redisMemory.perSession.toFixed(0)} bytes per session (value ${sampleBytes} bytes, MEMORY USAGE ${sampleUsage})`);
    await redis.client.flushall();

    log(`App heap: ${HEAP_SESSIONS} sessions in oauthSession()'s MemoryStore`);
    const memoryApp = await app(idp, redis, 'memory', 'scale-memory');
    children.push(memoryApp);
    await loginOnce(memoryApp.baseURL);
    const heap0 = (await memoryApp.ask('heap')).heap;
    await seed(memoryApp, HEAP_SESSIONS);
    const heap1 = (await memoryApp.ask('heap')).heap;
    const heap = { sessions: HEAP_SESSIONS, before: heap0, after: heap1, perSession: (heap1 - heap0) / HEAP_SESSIONS };
    log(`  ${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB, ${heap.perSession.toFixed(0)} bytes per session`);
    memoryApp.child.disconnect();

    log('Two instances on one Redis against one alone');
    const second = await app(idp, redis, 'redis', 'scale-redis-2');
    children.push(second);
    const both = [writer, second];
    const cookies = [];
    for (const a of both) {
      const list = [];
      for (let i = 0; i < 32; i++) list.push(await loginOnce(a.baseURL));
      cookies.push(list);
    }
    await runLogins(writer.baseURL, { concurrency: LOGIN_CONCURRENCY, durationMs: 1000 });
    const one = await throughput([writer], cookies);
    const two = await throughput(both, cookies);
    log(`  one instance: ${one.loginsPerSecond.toFixed(0)} logins/s, ${one.readsPerSecond.toFixed(0)} req/s; two: ${two.loginsPerSecond.toFixed(0)} logins/s, ${two.readsPerSecond.toFixed(0)} req/s`);

    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version },
      redisMemory,
      heap,
      instances: { one, two, seconds: SECONDS, connections: CONNECTIONS, loginConcurrency: LOGIN_CONCURRENCY },
      wallSeconds: (Date.now() - started) / 1000,
    };
    const mib = (b) => (b / 2 ** 20).toFixed(1);
    const md = [
      `Run ${report.date} on ${report.machine.cpus} CPUs (${report.machine.model}), node ${report.machine.node}, load average at the end ${report.machine.loadavg.map((l) => l.toFixed(1)).join(' ')}.`,
      '',
      '| figure | value |',
      '| --- | --- |',
      `| Redis memory per ${SESSIONS.toLocaleString('en')} logged-in sessions | ${mib(after - before)} MiB (${redisMemory.perSession.toFixed(0)} bytes per session; one value ${sampleBytes} bytes, MEMORY USAGE ${sampleUsage}) |`,
      `| app heap per ${HEAP_SESSIONS.toLocaleString('en')} in-process sessions (MemoryStore) | ${mib(heap1 - heap0)} MiB (${heap.perSession.toFixed(0)} bytes per session) |`,
      `| logins/s, one instance / two instances on one Redis | ${one.loginsPerSecond.toFixed(0)} / ${two.loginsPerSecond.toFixed(0)} |`,
      `| authenticated req/s, one instance / two instances on one Redis | ${one.readsPerSecond.toFixed(0)} / ${two.readsPerSecond.toFixed(0)} |`,
      '',
      `Failed operations: ${one.loginErrors + one.readErrors + two.loginErrors + two.readErrors}. Wall time ${report.wallSeconds.toFixed(0)} s. ` +
        `Logins and reads with ${LOGIN_CONCURRENCY} login workers and ${CONNECTIONS} connections per instance, ${SECONDS} s each; the load generator, the IdP and Redis share the same ${report.machine.cpus} CPUs.`,
    ].join('\n');
    writeFileSync(join(resultsDir, 'scale.json'), JSON.stringify(report, null, 2));
    writeFileSync(join(resultsDir, 'scale.md'), `${md}\n`);
    console.log(md);
  } finally {
    for (const c of children) if (c.child.connected) c.child.disconnect();
    redis.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
