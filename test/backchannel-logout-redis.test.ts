/**
 * Back-channel logout across instances with sessions in Redis (oauthSession({ redis })): users log in through
 * instance A, the IdP's logout token reaches instance B, and B ends the right sessions, found through the Redis
 * index (sets with a TTL in the middleware's own key namespace).
 */
import { Redis } from 'ioredis';
import { Browser } from './helpers/browser.js';
import { signOutAtIdp } from './helpers/logout.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp } from './helpers/idp.js';
import { sessionIdFromCookie, startTwoInstances } from './helpers/instances.js';
import type { TestServer } from './helpers/servers.js';
import { hasSession } from './helpers/sealed.js';

let idp: TestIdp;
let a: TestServer;
let raw: Redis;

let close: () => Promise<void>;
beforeAll(async () => {
  ({ idp, a, raw, close } = await startTwoInstances({ backchannelLogout: true }, (_a, b) => ({ backchannelLogoutUri: `${b.url}/backchannel-logout` })));
});
afterAll(() => close());

const loggedIn = async (browser: Browser) =>
  (await browser.request(`${a.url}/api/me`, { headers: { accept: 'application/json' } })).status === 200;

test('a logout token received by instance B ends the session created through instance A, and only that one', async () => {
  const alice1 = new Browser();
  const alice2 = new Browser();
  const bob = new Browser();
  await login(alice1, a.url, { user: 'alice' });
  await login(alice2, a.url, { user: 'alice' });
  await login(bob, a.url, { user: 'bob' });
  const sid = sessionIdFromCookie(alice1.cookie('app.sid')!.value);
  expect(await hasSession(raw, sid)).toBe(1);
  // The index lives in Redis, namespaced and with a TTL.
  const keys = await raw.keys(`eol:${CLIENT_ID}:bcl:*`);
  expect(keys.length).toBeGreaterThanOrEqual(4);
  for (const key of keys) expect(await raw.ttl(key)).toBeGreaterThan(0);
  await signOutAtIdp(alice1, idp, CLIENT_ID);
  expect(await hasSession(raw, sid)).toBe(0);
  expect(await loggedIn(alice1)).toBe(false);
  expect(await loggedIn(alice2)).toBe(true);
  expect(await loggedIn(bob)).toBe(true);
});
