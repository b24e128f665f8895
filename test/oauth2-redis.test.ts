/**
 * A plain OAuth 2.0 login with sessions in a real redis-server, on two instances behind one public URL: the login
 * starts on A and its callback lands on B, both serve the user, and a refresh on one is seen by the other.
 */
import { Redis } from 'ioredis';
import { Browser } from './helpers/browser.js';
import { startInstance } from './helpers/instances.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { type OAuth2StandIn, OAUTH2_CLIENT_ID, OAUTH2_CLIENT_SECRET, startOAuth2StandIn } from './helpers/standins/oauth2.js';

let redis: RedisServer;
let as: OAuth2StandIn;
let a: TestServer;
let b: TestServer;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  as = await startOAuth2StandIn();
  const a0 = await startServer();
  const config = { clientId: OAUTH2_CLIENT_ID, clientSecret: OAUTH2_CLIENT_SECRET, scope: 'profile', discovery: 'oauth2' as const };
  a = await startInstance({ issuer: as.issuer, redis: redis.url, server: a0, config });
  b = await startInstance({ issuer: as.issuer, redis: redis.url, baseURL: a.url, config });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await a.close();
  await b.close();
  await as.close();
  await redis.close();
});

const sessionId = (browser: Browser) => decodeURIComponent(browser.cookie('app.sid')!.value).slice(2).split('.')[0]!;

test('login on A, callback on B, the user on both; the session lives in Redis and a refresh is shared', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${a.url}/login`, { stopAt: (u) => u.startsWith(`${a.url}/callback`) });
  const callback = new URL(hops.at(-1)!.location!);
  const done = await browser.request(`${b.url}${callback.pathname}${callback.search}`);
  expect(done.status).toBe(302);
  for (const base of [a.url, b.url]) {
    const res = await browser.request(`${base}/profile`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).sub).toBe('ada-sub');
  }
  const key = `sess:${sessionId(browser)}`;
  const stored = JSON.parse((await raw.get(key))!);
  expect(stored.oauth.user.sub).toBe('ada-sub');
  expect(stored.oauth.user.tokens.idToken).toBeUndefined();
  // Expire the access token in Redis: A refreshes, B then uses A's new token without a grant of its own.
  stored.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  await raw.set(key, JSON.stringify(stored), 'KEEPTTL');
  const before = as.grants.refresh_token ?? 0;
  const onA = JSON.parse((await browser.request(`${a.url}/api/me`, { headers: { accept: 'application/json' } })).body);
  const onB = JSON.parse((await browser.request(`${b.url}/api/me`, { headers: { accept: 'application/json' } })).body);
  expect(onA.accessToken).toBe(onB.accessToken);
  expect(as.grants.refresh_token).toBe(before + 1);
});
