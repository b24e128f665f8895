/**
 * Redis Sentinel: a real master and a real sentinel (redis-server --sentinel) on loopback; oauthSession() and
 * oauthLogin() get an ioredis client that asks the sentinel for the master. A full login and a protected request.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisClientOptions } from '../lib/index.js';
import { Browser, login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { type RedisServer, freePort, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readStored } from './helpers/sealed.js';

let master: RedisServer;
let sentinel: ChildProcess;
let sentinelDir: string;
let client: Redis;
let idp: TestIdp;
let app: TestServer;

beforeAll(async () => {
  master = await startRedis();
  const port = await freePort();
  sentinelDir = mkdtempSync(join(tmpdir(), 'eol-sentinel-'));
  const conf = join(sentinelDir, 'sentinel.conf');
  // Sentinel rewrites its configuration file, so it gets a writable one of its own.
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${sentinelDir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`);
  sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  client = new Redis({ sentinels: [{ host: '127.0.0.1', port }], name: 'mymaster', ...redisClientOptions(2000) });
  await new Promise((resolve, reject) => {
    client.once('ready', resolve);
    setTimeout(() => reject(new Error('no master through the sentinel')), 15_000).unref();
  });
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  app = await startInstance({ issuer: idp.issuer, redis: client, server: app });
}, 30_000);
afterAll(async () => {
  await app?.close();
  client?.disconnect();
  await idp?.close();
  sentinel?.kill('SIGTERM');
  await master?.close();
  rmSync(sentinelDir, { recursive: true, force: true });
});

test('login and a protected request with sessions on the master the sentinel names', async () => {
  const browser = new Browser();
  const { final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
  // The session really is on the master the sentinel pointed at.
  const direct = new Redis(master.url);
  try {
    const stored = await readStored(direct, sessionIdFromCookie(browser.cookie('app.sid')!.value));
    expect(stored!.oauth.user.sub).toBe('alice');
  } finally {
    direct.disconnect();
  }
  const api = await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
  expect(api.status).toBe(200);
});
