/**
 * Behaviour 5: an access token that expired (or is about to) is refreshed before the route runs; concurrent
 * requests of one session share one refresh grant; a refresh the IdP refuses ends the session.
 */
import session from 'express-session';
import { startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import type { TestIdp } from './helpers/idp.js';
import type { TestServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();

let close: () => Promise<void>;
// The IdP rotates refresh tokens and refuses a reused one: two refreshes with the same token would log out.
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp({ rotateRefreshTokens: true }, { store }));
});
afterAll(() => close());

const json = { accept: 'application/json' };
const me = async (browser: Browser) => {
  const res = await browser.request(`${app.url}/api/me`, { headers: json });
  return { status: res.status, body: res.status === 200 ? JSON.parse(res.body) : undefined };
};
/** Moves the stored access token's expiry into the past, as if an hour had gone by. */
const expire = (browser: Browser) =>
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });

test('a valid access token is used as is: no refresh grant', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const before = idp.grants.refresh_token ?? 0;
  const first = await me(browser);
  const second = await me(browser);
  expect(second.body.accessToken).toBe(first.body.accessToken);
  expect(idp.grants.refresh_token ?? 0).toBe(before);
});

test('an expired access token is refreshed before the route runs, and the new tokens are stored', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const old = (await me(browser)).body;
  const oldRefreshToken = readSession(store, sessionIdOf(browser))!.oauth.user.tokens.refreshToken;
  expire(browser);
  const before = idp.grants.refresh_token ?? 0;
  const fresh = await me(browser);
  expect(fresh.status).toBe(200);
  expect(fresh.body.accessToken).not.toBe(old.accessToken);
  expect(fresh.body.expiresAt).toBeGreaterThan(Date.now() / 1000);
  expect(idp.grants.refresh_token).toBe(before + 1);
  const stored = readSession(store, sessionIdOf(browser))!.oauth.user.tokens;
  expect(stored.accessToken).toBe(fresh.body.accessToken);
  // The IdP rotates refresh tokens: the new one replaced the old one.
  expect(stored.refreshToken).toEqual(expect.any(String));
  expect(stored.refreshToken).not.toBe(oldRefreshToken);
  // The stored result is reused: the next request does not refresh again.
  expect((await me(browser)).body.accessToken).toBe(fresh.body.accessToken);
  expect(idp.grants.refresh_token).toBe(before + 1);
});

test('a token about to expire (within refreshSkew) is refreshed too', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const old = (await me(browser)).body;
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) + 5;
  });
  expect((await me(browser)).body.accessToken).not.toBe(old.accessToken);
});

test('20 concurrent requests of one session share one refresh grant, and all succeed', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  expire(browser);
  const before = idp.grants.refresh_token ?? 0;
  const results = await Promise.all(Array.from({ length: 20 }, () => me(browser)));
  expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect(new Set(results.map((r) => r.body.accessToken)).size).toBe(1);
  expect(idp.grants.refresh_token).toBe(before + 1);
  // Still logged in afterwards with the rotated refresh token.
  expect((await me(browser)).status).toBe(200);
});

test('a refresh the IdP refuses (invalid_grant) ends the session: 401, and the session is gone', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
    s.oauth.user.tokens.refreshToken = 'revoked-or-never-issued';
  });
  const sid = sessionIdOf(browser);
  expect((await me(browser)).status).toBe(401);
  expect(readSession(store, sid)).toBeUndefined();
  // A browser is sent to log in again rather than shown an error.
  const page = await browser.request(`${app.url}/profile`);
  expect(page.status).toBe(302);
  expect(page.location).toContain('/login?returnTo=');
});

test('an expired access token without a refresh token ends the session', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
    delete s.oauth.user.tokens.refreshToken;
  });
  expect((await me(browser)).status).toBe(401);
});
