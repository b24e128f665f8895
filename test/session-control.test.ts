/**
 * The session control API (issue 12 part 4): listSessions() shows the current user's sessions on every browser
 * (never another user's), endSession() / endAllSessions() end them with revocation at the IdP, endSessions() does
 * the same for admin code by sub or sid; on MemoryStore and, across two instances, on Redis.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import session from 'express-session';
import { type SessionInfo, endAllSessions, endSession, endSessions, isSessionFormRequest, listSessions, sessionFormToken } from '../lib/index.js';
import { startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import type { TestIdp } from './helpers/idp.js';
import { startTwoInstances } from './helpers/instances.js';
import type { TestServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';

/** The app's session routes: the API as an app would expose it to its own pages (JSON here). */
function sessionRoutes(app: express.Express): void {
  app.get('/api/form-token', (req, res) => {
    res.json({ token: sessionFormToken(req) ?? null });
  });
  app.post('/api/form-check', express.json(), (req, res) => {
    res.json({ ok: isSessionFormRequest(req, (req.body as { token?: unknown }).token) });
  });
  app.get('/api/sessions', async (req, res, next) => {
    try {
      res.json(await listSessions(req));
    } catch (err) {
      next(err);
    }
  });
  app.post('/api/sessions/end', express.json(), async (req, res, next) => {
    try {
      const body = req.body as { handle?: string; all?: boolean; exceptCurrent?: boolean };
      if (body.all) res.json({ ended: await endAllSessions(req, { exceptCurrent: Boolean(body.exceptCurrent) }) });
      else res.json({ ended: await endSession(req, String(body.handle)) });
    } catch (err) {
      next(err);
    }
  });
}

const api = { accept: 'application/json' };
const list = async (browser: Browser, base: string): Promise<SessionInfo[]> => {
  const res = await browser.request(`${base}/api/sessions`, { headers: api });
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as SessionInfo[];
};
const end = (browser: Browser, base: string, body: object) =>
  browser.request(`${base}/api/sessions/end`, { method: 'POST', headers: { ...api, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const status = async (browser: Browser, base: string) => (await browser.request(`${base}/api/me`, { headers: api })).status;

describe('on MemoryStore', () => {
  const store = new session.MemoryStore();
  let app: TestServer;
  let idp: TestIdp;
  let close: () => Promise<void>;
  beforeAll(async () => {
    // A back-channel logout URI makes the IdP put its session id (sid) in the ID tokens; it is never called here.
    ({ app, idp, close } = await startAppWithIdp(
      { backchannelLogoutUri: 'http://127.0.0.1:9/backchannel-logout' },
      { store, config: { sessionControl: true }, routes: sessionRoutes },
    ));
  });
  afterAll(() => close());

  async function signedIn(user = 'alice'): Promise<Browser> {
    const browser = new Browser();
    await login(browser, app.url, { user, ...(user === 'bob' && { password: 'bob-password' }) });
    return browser;
  }
  const tokensOf = (browser: Browser) => readSession(store, sessionIdOf(browser))!.oauth.user.tokens as { refreshToken: string; accessToken: string };

  test("listSessions shows both browsers' sessions of one user, the current one flagged, and none of another user's", async () => {
    const first = await signedIn();
    const second = await signedIn();
    const bob = await signedIn('bob');
    const seen = await list(first, app.url);
    const mine = seen.filter((s) => s.current);
    expect(mine).toHaveLength(1);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const fromSecond = await list(second, app.url);
    expect(new Set(fromSecond.map((s) => s.handle))).toEqual(new Set(seen.map((s) => s.handle)));
    expect(fromSecond.find((s) => s.current)!.handle).not.toBe(mine[0]!.handle);
    for (const s of seen) {
      expect(s).toMatchObject({ handle: expect.any(String), createdAt: expect.any(Number), lastSeenAt: expect.any(Number), userAgent: expect.any(String) });
      expect(s.ip).toBeUndefined();
    }
    // Bob sees only his own session; nothing in the answers is a session id, a token or the logout token.
    const bobs = await list(bob, app.url);
    expect(bobs).toHaveLength(1);
    expect(seen.map((s) => s.handle)).not.toContain(bobs[0]!.handle);
    const text = JSON.stringify([seen, bobs]);
    for (const b of [first, second, bob]) {
      expect(text).not.toContain(sessionIdOf(b));
      const user = readSession(store, sessionIdOf(b))!.oauth.user;
      for (const secret of [user.logoutToken, user.tokens.accessToken, user.tokens.refreshToken]) expect(text).not.toContain(secret);
    }
    // Anonymous: an empty list.
    expect(await list(new Browser(), app.url)).toEqual([]);
  });

  test("endSession ends the other browser's session and revokes its refresh token at the IdP; another user's handle ends nothing", async () => {
    const first = await signedIn();
    const second = await signedIn();
    const bob = await signedIn('bob');
    const secondTokens = tokensOf(second);
    const target = (await list(second, app.url)).find((s) => s.current)!;
    // Bob cannot end Alice's session with its handle.
    expect(JSON.parse((await end(bob, app.url, { handle: target.handle })).body)).toEqual({ ended: false });
    expect(await status(second, app.url)).toBe(200);
    const before = idp.revocations.length;
    expect(JSON.parse((await end(first, app.url, { handle: target.handle })).body)).toEqual({ ended: true });
    expect(await status(second, app.url)).toBe(401);
    expect(await status(first, app.url)).toBe(200);
    expect(idp.revocations.slice(before).filter((r) => r.token === secondTokens.refreshToken)).toEqual([
      { token: secondTokens.refreshToken, hint: 'refresh_token' },
    ]);
    expect(await idp.refreshWith(secondTokens.refreshToken)).toBe(400);
    expect((await list(first, app.url)).map((s) => s.handle)).not.toContain(target.handle);
  });

  test('endAllSessions({ exceptCurrent: true }) keeps this session; endAllSessions() ends this one too', async () => {
    const first = await signedIn();
    const second = await signedIn();
    const third = await signedIn();
    const ended = JSON.parse((await end(first, app.url, { all: true, exceptCurrent: true })).body).ended as number;
    expect(ended).toBeGreaterThanOrEqual(2);
    expect(await status(second, app.url)).toBe(401);
    expect(await status(third, app.url)).toBe(401);
    expect(await status(first, app.url)).toBe(200);
    const firstTokens = tokensOf(first);
    expect(JSON.parse((await end(first, app.url, { all: true })).body)).toEqual({ ended: 1 });
    expect(await status(first, app.url)).toBe(401);
    expect(await idp.refreshWith(firstTokens.refreshToken)).toBe(400);
  });

  test("the form token is the session's own and not its logout token; a cross-site request with it is refused", async () => {
    const browser = await signedIn();
    const { token } = JSON.parse((await browser.request(`${app.url}/api/form-token`, { headers: api })).body) as { token: string };
    expect(token).toEqual(expect.any(String));
    expect(token).not.toBe(readSession(store, sessionIdOf(browser))!.oauth.user.logoutToken);
    const check = async (b: Browser, body: object, headers: Record<string, string>) =>
      JSON.parse(
        (await b.request(`${app.url}/api/form-check`, { method: 'POST', headers: { ...api, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })).body,
      ).ok as boolean;
    expect(await check(browser, { token }, { origin: app.url })).toBe(true);
    expect(await check(browser, { token }, { origin: 'https://evil.example' })).toBe(false);
    expect(await check(browser, { token }, { 'sec-fetch-site': 'cross-site' })).toBe(false);
    expect(await check(browser, { token: `${token.slice(0, -1)}A` }, { origin: app.url })).toBe(false);
    expect(await check(browser, {}, { origin: app.url })).toBe(false);
    // Another user's browser, with this token: not theirs.
    expect(await check(await signedIn('bob'), { token }, { origin: app.url })).toBe(false);
    // Anonymous: no token at all.
    expect(JSON.parse((await new Browser().request(`${app.url}/api/form-token`, { headers: api })).body)).toEqual({ token: null });
  });

  test('a session that ended on its own (a refused refresh) is no longer listed', async () => {
    const first = await signedIn();
    const second = await signedIn();
    const handle = (await list(second, app.url)).find((s) => s.current)!.handle;
    editSession(store, sessionIdOf(second), (s) => {
      s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
      s.oauth.user.tokens.refreshToken = 'revoked-or-never-issued';
    });
    expect(await status(second, app.url)).toBe(401);
    await new Promise((r) => setTimeout(r, 50)); // the record is dropped off the request's path
    expect((await list(first, app.url)).map((s) => s.handle)).not.toContain(handle);
  });

  test('lastSeenAt follows the idle stamp (written at most once a minute, with the session)', async () => {
    const browser = await signedIn();
    // As if two minutes had passed since the last recorded activity.
    editSession(store, sessionIdOf(browser), (s) => {
      s.oauth.user.seenAt -= 120;
    });
    const before = (await list(browser, app.url)).find((s) => s.current)!;
    expect(await status(browser, app.url)).toBe(200);
    await new Promise((r) => setTimeout(r, 50)); // the record is written off the request's path
    const after = (await list(browser, app.url)).find((s) => s.current)!;
    expect(after.lastSeenAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    expect(after.lastSeenAt).toBeGreaterThanOrEqual(before.lastSeenAt);
    expect(after.createdAt).toBe(before.createdAt);
  });

  test('endSessions by sub ends every session of that user only; by sid only that IdP session', async () => {
    const alice = await signedIn();
    const bob1 = await signedIn('bob');
    const bob2 = await signedIn('bob');
    expect(await endSessions({ sub: 'bob' })).toBeGreaterThanOrEqual(2);
    expect(await status(bob1, app.url)).toBe(401);
    expect(await status(bob2, app.url)).toBe(401);
    expect(await status(alice, app.url)).toBe(200);
    const other = await signedIn();
    const sid = (await list(other, app.url)).find((s) => s.current)!.sid;
    expect(sid).toEqual(expect.any(String));
    expect(await endSessions({ sid: sid! })).toBe(1);
    expect(await status(other, app.url)).toBe(401);
    expect(await status(alice, app.url)).toBe(200);
    expect(await endSessions({ sub: 'nobody' })).toBe(0);
  });
});

describe('on Redis, across two instances', () => {
  let a: TestServer;
  let b: TestServer;
  let idp: TestIdp;
  let raw: Redis;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, idp, raw, close } = await startTwoInstances({ sessionControl: true }, (x) => ({ backchannelLogoutUri: `${x.url}/backchannel-logout` }), sessionRoutes));
  });
  afterAll(() => close());

  test("listSessions on one instance shows the session made on the other; endAllSessions there ends it within one request", async () => {
    const onA = new Browser();
    await login(onA, a.url);
    const onB = new Browser();
    await login(onB, a.url);
    expect(await status(onB, b.url)).toBe(200);
    const seen = await list(onA, a.url);
    expect(seen).toHaveLength(2);
    expect(seen.filter((s) => s.current)).toHaveLength(1);
    expect(await list(onB, b.url)).toHaveLength(2);
    const before = idp.revocations.length;
    expect(JSON.parse((await end(onA, a.url, { all: true, exceptCurrent: true })).body)).toEqual({ ended: 1 });
    // The very next request of the other browser, on the other instance, is logged out.
    expect(await status(onB, b.url)).toBe(401);
    expect(await status(onA, b.url)).toBe(200);
    expect(idp.revocations.slice(before).map((r) => r.hint)).toContain('refresh_token');
    expect(await list(onA, b.url)).toHaveLength(1);
  }, 30_000);

  test('the session records in Redis are sealed: no token, no sid, no browser label in clear', async () => {
    const browser = new Browser();
    await login(browser, a.url);
    const [mine] = await list(browser, a.url);
    const keys = await raw.keys('*rec:*');
    expect(keys.length).toBeGreaterThan(0);
    const values = (await Promise.all(keys.map((k) => raw.get(k)))).join('\n');
    expect(values).not.toContain(mine!.sid!);
    expect(values).not.toContain(mine!.userAgent);
    expect(values).not.toMatch(/refreshToken|accessToken|eyJhbGciOiJSUzI1NiI/);
  }, 30_000);

  test('endSessions by sub reaches the sessions of both instances', async () => {
    const one = new Browser();
    await login(one, a.url, { user: 'bob', password: 'bob-password' });
    const two = new Browser();
    await login(two, a.url, { user: 'bob', password: 'bob-password' });
    expect(await status(two, b.url)).toBe(200);
    expect(await endSessions({ sub: 'bob' })).toBe(2);
    expect(await status(one, a.url)).toBe(401);
    expect(await status(two, b.url)).toBe(401);
  }, 30_000);
});
