/**
 * Refresh single flight across instances: 50 concurrent requests spread over two instances sharing one Redis,
 * after the access token expired, against an IdP that rotates refresh tokens → exactly one refresh grant.
 */
import { Redis } from 'ioredis';
import { Browser, login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import type { TestIdp } from './helpers/idp.js';
import { monitorRedis, sessionIdFromCookie, startInstance, startTwoInstances } from './helpers/instances.js';
import type { RedisServer } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { hasSession, readStored, writeStored } from './helpers/sealed.js';

let redis: RedisServer;
let idp: TestIdp;
let a: TestServer;
let b: TestServer;
let raw: Redis;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ redis, idp, a, b, raw, close } = await startTwoInstances({ httpTimeout: 5000 }, () => ({ rotateRefreshTokens: true, accessTokenTTL: 600 })));
});
afterAll(() => close());

const api = (browser: Browser, base: string) => browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } });

test('50 concurrent requests on two instances after expiry: one refresh grant, everyone gets the new token', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
  const before = JSON.parse((await api(browser, b.url)).body);
  const oldRefresh = (await readStored(raw, sid))!.oauth.user.tokens.refreshToken as string;
  expect(idp.grants.refresh_token ?? 0).toBe(0);

  // The access token expires: as if its time had passed, the stored expiry moves into the past (same Redis TTL).
  const data = (await readStored(raw, sid))!;
  data.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1;
  await writeStored(raw, sid, data);
  const monitor = await monitorRedis(redis.url);
  const started = Date.now();
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => api(browser, i % 2 ? b.url : a.url)));
  const elapsed = Date.now() - started;
  await new Promise((r) => setTimeout(r, 100));
  await monitor.stop();

  console.log(`50 concurrent requests across 2 instances during a refresh: ${elapsed} ms`);
  expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
  expect(idp.grants.refresh_token).toBe(1);
  const tokens = new Set(responses.map((r) => JSON.parse(r.body).accessToken));
  expect(tokens.size).toBe(1);
  expect([...tokens][0]).not.toBe(before.accessToken);

  // One lock was taken; the refresh token itself never reached Redis outside the session record.
  const locks = monitor.commands.filter((c) => c[0] === 'set' && c.includes('NX'));
  expect(locks.length).toBeGreaterThanOrEqual(1);
  expect(monitor.commands.filter((c) => c[0] === 'set' && c[1]!.endsWith(':lock') && c.includes('NX')).length).toBe(locks.length);
  const outsideSession = monitor.commands.filter((c) => !c[1]?.startsWith('sess:'));
  expect(outsideSession.length).toBeGreaterThan(0);
  expect(JSON.stringify(outsideSession)).not.toContain(oldRefresh);

  // The session now holds the rotated refresh token, and both instances keep working with no further grant.
  const stored = (await readStored(raw, sid))!.oauth.user.tokens;
  expect(stored.refreshToken).not.toBe(oldRefresh);
  expect(stored.accessToken).toBe([...tokens][0]);
  for (const base of [a.url, b.url]) {
    const res = await api(browser, base);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).accessToken).toBe([...tokens][0]);
  }
  expect(idp.grants.refresh_token).toBe(1);
}, 45_000);

describe('when the IdP fails during a shared refresh', () => {
  let hostile: HostileIdp;
  let c: TestServer;
  let d: TestServer;

  beforeAll(async () => {
    hostile = await startHostileIdp();
    c = await startServer();
    d = await startServer();
    // expires_in is 300 at this IdP: with refreshSkew 300 every request refreshes, which is what this test needs.
    const config = { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: 2000, refreshSkew: 300 };
    c = await startInstance({ issuer: hostile.issuer, redis: redis.url, server: c, config });
    d = await startInstance({ issuer: hostile.issuer, redis: redis.url, server: d, baseURL: c.url, config });
  });
  afterAll(async () => {
    await c.close();
    await d.close();
    await hostile.close();
  });

  const refreshGrants = () => hostile.tokenRequests.filter((r) => r.get('grant_type') === 'refresh_token').length;

  test('one attempt reaches the IdP, every waiting request gets its 504, and the session survives', async () => {
    const browser = new Browser();
    await login(browser, c.url);
    const sid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
    const before = refreshGrants();
    hostile.set({ tokenDelayMs: 5000 }); // slower than httpTimeout (2000 ms)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => api(browser, i % 2 ? d.url : c.url)));
    hostile.reset();
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(504));
    expect(new Set(responses.map((r) => JSON.parse(r.body).error))).toEqual(new Set(['idp_timeout']));
    expect(refreshGrants() - before).toBe(1);
    // The IdP being slow is no reason to log the user out: the session is still there, and the next request refreshes.
    expect(await hasSession(raw, sid)).toBe(1);
    // The failure answered only the requests that waited for that attempt: the next request tries again at once.
    const again = await api(browser, d.url);
    expect(again.status).toBe(200);
    expect(refreshGrants() - before).toBe(2);
  }, 30_000);
});
