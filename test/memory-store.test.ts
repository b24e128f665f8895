/**
 * The in-process store of oauthSession() without Redis is bounded (lru-cache, two tiers): a loop of /login
 * requests stays within the anonymous tier's bound, evicting the oldest pending logins, while logged-in sessions
 * survive; a session that holds only pending logins lives at most `loginTimeout`.
 */
import express from 'express';
import { oauthErrorHandler, oauthLogin, oauthSession, requireAuth } from '../lib/index.js';
import type { MemoryStoreStats } from '../lib/session/memory-store.js';
import { testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { gate } from './helpers/gate.js';
import { login } from './helpers/flow.js';
import { postLogout } from './helpers/logout.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const BOUND = { maxSessions: 100, maxBytes: 1024 * 1024, maxAnonymousSessions: 40, maxAnonymousBytes: 65_536 };
const LOGIN_TIMEOUT = 120;

let held = gate();

let app: TestServer;
let idp: TestIdp;

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  const a = express();
  a.use(oauthSession({ secret: 'a-test-session-secret-that-is-long-enough-0123456789', baseURL: app.url, memory: BOUND, cookie: { name: 'app.sid' } }));
  a.use(oauthLogin(testConfig(app, idp.issuer, { loginTimeout: LOGIN_TIMEOUT })));
  a.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user?.sub });
  });
  a.get('/slow', async (req, res) => {
    const hold = held;
    hold.entered();
    await hold.released;
    const s = req.session as unknown as { visits?: number };
    s.visits = (s.visits ?? 0) + 1;
    res.json({ visits: s.visits });
  });
  a.get('/store-stats', (req, res) => {
    res.json((req.sessionStore as unknown as { stats(): MemoryStoreStats }).stats());
  });
  a.use(oauthErrorHandler());
  app.handle(a);
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

const stats = async (): Promise<MemoryStoreStats> => JSON.parse((await new Browser().request(`${app.url}/store-stats`)).body);
const me = async (browser: Browser) => (await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } })).status;

test('a /login flood stays within the anonymous bound and evicts the oldest pending logins, never a logged-in user', async () => {
  const users = [new Browser(), new Browser(), new Browser()];
  for (const [i, browser] of users.entries()) await login(browser, app.url, { user: i === 1 ? 'bob' : 'alice' });
  // A visitor half-way through a login when the flood starts.
  const early = new Browser();
  const { callback } = await login(early, app.url, { stopAtCallback: true });
  for (let i = 0; i < 300; i++) {
    expect((await new Browser().request(`${app.url}/login`)).status).toBe(302);
  }
  const after = await stats();
  expect(after.anonymousSessions).toBeLessThanOrEqual(BOUND.maxAnonymousSessions);
  expect(after.anonymousBytes).toBeLessThanOrEqual(BOUND.maxAnonymousBytes);
  expect(after.sessions).toBe(users.length);
  for (const browser of users) expect(await me(browser)).toBe(200);
  // At the bound the least recently used anonymous session went: that login has to start again.
  const late = await early.request(callback.location!);
  expect(late.status).toBe(400);
  expect(late.body).toMatch(/does not match a sign-in in progress/);
});

test('a session holding only pending logins lives at most loginTimeout in the in-process store', async () => {
  expect((await new Browser().request(`${app.url}/login`)).status).toBe(302);
  const { anonymousTtlMax } = await stats();
  expect(anonymousTtlMax).toBeGreaterThan(LOGIN_TIMEOUT - 5);
  expect(anonymousTtlMax).toBeLessThanOrEqual(LOGIN_TIMEOUT);
});

test('two logins started at once in one session both stay pending (the compare-and-set merges them)', async () => {
  const browser = new Browser();
  expect((await browser.request(`${app.url}/login`)).status).toBe(302);
  const [one, two] = await Promise.all([browser.request(`${app.url}/login`), browser.request(`${app.url}/login`)]);
  const states = [one!, two!].map((r) => new URL(r.location!).searchParams.get('state'));
  expect(new Set(states).size).toBe(2);
  // Both pending logins are in the stored session: each callback gets past the state check (to the code check).
  for (const state of states) {
    const res = await browser.request(`${app.url}/callback?state=${state}&code=bogus&iss=${encodeURIComponent(idp.issuer)}`);
    expect(res.body).not.toMatch(/does not match a sign-in in progress/);
  }
});

test('in process too, a request in flight across a logout does not bring the session back', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const stale = new Browser();
  stale.cookies.push({ ...browser.cookie('app.sid')! });
  held = gate();
  const slow = stale.request(`${app.url}/slow`);
  await held.inside;
  const page = await postLogout(browser, app.url);
  expect(page.status).toBe(200);
  held.release();
  expect((await slow).status).toBe(200);
  expect(await me(stale)).toBe(401);
  expect((await stats()).tombstones).toBeGreaterThanOrEqual(1);
});
