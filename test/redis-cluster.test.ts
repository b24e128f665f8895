/**
 * A real 3-node Redis Cluster on loopback (redis-server --cluster-enabled yes, joined with redis-cli --cluster
 * create): a full login and protected requests through an ioredis Cluster client, including a refresh that takes
 * the cross-instance lock on the cluster.
 */
import { spawnSync } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { Browser, login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { type RedisServer, freePort, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readStored, writeStored } from './helpers/sealed.js';

const nodes: RedisServer[] = [];
let cluster: Cluster;
let idp: TestIdp;
let app: TestServer;

async function clusterReady(ports: number[], deadlineMs = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const states = await Promise.all(
      ports.map(async (port) => {
        const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
        try {
          return /cluster_state:ok/.test(String(await c.cluster('INFO')));
        } finally {
          c.disconnect();
        }
      }),
    );
    if (states.every(Boolean)) return;
    if (Date.now() - started > deadlineMs) throw new Error('the Redis Cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    // An explicit bus port: the default (port + 10000) may fall outside the valid range for a random port.
    const bus = await freePort();
    nodes.push(
      await startRedis({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--cluster-port', String(bus)],
      }),
    );
  }
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  await clusterReady(nodes.map((n) => n.port));
  cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }], {
    redisOptions: { commandTimeout: 2000, maxRetriesPerRequest: 1 },
  });
  await new Promise((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('error', reject);
  });
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url], rotateRefreshTokens: true });
  app = await startInstance({ issuer: idp.issuer, redis: cluster, server: app });
}, 50_000);
afterAll(async () => {
  await app?.close();
  cluster?.disconnect();
  await idp?.close();
  await Promise.all(nodes.map((n) => n.close()));
});

test('full login and protected requests with sessions in a 3-node Redis Cluster', async () => {
  expect(nodes).toHaveLength(3);
  const masters = cluster.nodes('master');
  expect(masters).toHaveLength(3);

  const browser = new Browser();
  const { final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
  const sid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
  const stored = await readStored(cluster, sid);
  expect(stored!.oauth.user.sub).toBe('alice');

  // The access token expires (its stored expiry moves into the past): the refresh takes the lock and stores its
  // outcome on the cluster (lock and outcome share a hash tag, so one slot), and the rotated token lands in the session.
  const data = stored!;
  const before = data.oauth.user.tokens.accessToken;
  data.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1;
  await writeStored(cluster, sid, data);
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } })),
  );
  expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  const after = new Set(responses.map((r) => JSON.parse(r.body).accessToken));
  expect(after.size).toBe(1);
  expect([...after][0]).not.toBe(before);
  expect(idp.grants.refresh_token).toBe(1);
  const keys = (await Promise.all(masters.map((m) => m.keys('eol:*')))).flat();
  expect(keys.some((k) => /^eol:test-client:refresh:\{[\w-]+\}:result$/.test(k))).toBe(true);
}, 40_000);
