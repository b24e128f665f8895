/**
 * Load: 200 logins at once, each a different user, through the real test IdP (oidc-provider's login pages) into one
 * Redis session store (connect-redis over a real redis-server). Every browser must end logged in as its own user
 * with its own tokens, and the store must hold exactly one session per login: no mix-up, nothing lost.
 */
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';

const LOGINS = 200;
const PREFIX = 'load:';

const users = Object.fromEntries(
  Array.from({ length: LOGINS }, (_, i) => [
    `user${i}`,
    { password: `password-${i}`, claims: { name: `User ${i}`, email: `user${i}@load.example`, email_verified: true } },
  ]),
);

let app: TestServer;
let idp: TestIdp;
let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url], users });
  // 200 token requests reach oidc-provider at once on a shared 2-core machine: the IdP's queue, not the app, sets
  // the pace, so the deadline is generous here (faults.test.ts covers httpTimeout itself).
  buildApp({ server: app, issuer: idp.issuer, store: new RedisStore({ client, prefix: PREFIX }), config: { httpTimeout: 30_000 } });
}, 30_000);
afterAll(async () => {
  await app?.close();
  await idp?.close();
  client?.disconnect();
  await redis?.close();
});

interface Me {
  sub: string;
  claims: { email: string; name: string };
  accessToken: string;
  refreshToken: string;
  idToken: string;
}

test(`${LOGINS} concurrent logins of distinct users each end logged in as their own user, with their own tokens`, async () => {
  const started = Date.now();
  const grantsBefore = idp.grants.authorization_code ?? 0;
  const browsers = Array.from({ length: LOGINS }, () => new Browser());
  const results = await Promise.all(
    browsers.map((browser, i) => login(browser, app.url, { user: `user${i}`, password: `password-${i}`, returnTo: '/profile' })),
  );
  const elapsed = Date.now() - started;

  // Nothing lost: every login reached the callback, was redirected to returnTo and shows the profile.
  for (const { callback, final } of results) {
    expect(callback.status).toBe(302);
    expect(final.url).toBe(`${app.url}/profile`);
    expect(final.status).toBe(200);
  }
  expect((idp.grants.authorization_code ?? 0) - grantsBefore).toBe(LOGINS);

  // No mix-up: each browser, asked again now that every login is done, is its own user.
  const profiles: Me[] = await Promise.all(
    browsers.map(async (browser) => JSON.parse((await browser.request(`${app.url}/profile`, { headers: { accept: 'application/json' } })).body) as Me),
  );
  profiles.forEach((me, i) => {
    expect(me.sub).toBe(`user${i}`);
    expect(me.claims.email).toBe(`user${i}@load.example`);
    expect(me.claims.name).toBe(`User ${i}`);
  });
  // Each session holds tokens of its own: none shared between two sessions.
  for (const field of ['accessToken', 'refreshToken', 'idToken'] as const) {
    expect(new Set(profiles.map((p) => p[field])).size).toBe(LOGINS);
  }
  expect(new Set(browsers.map((b) => b.cookie('app.sid')!.value)).size).toBe(LOGINS);

  // The store holds exactly one session per login, each with its user and no leftover pending login.
  const keys = await client.keys(`${PREFIX}*`);
  expect(keys).toHaveLength(LOGINS);
  const stored = (await client.mget(keys)).map((v) => JSON.parse(v!) as { oauth?: { user?: { sub: string }; pending?: unknown } });
  expect(new Set(stored.map((s) => s.oauth?.user?.sub))).toEqual(new Set(Object.keys(users)));
  expect(stored.filter((s) => s.oauth?.pending)).toHaveLength(0);

  console.log(`${LOGINS} concurrent logins through oidc-provider + Redis took ${elapsed} ms`);
}, 90_000);
