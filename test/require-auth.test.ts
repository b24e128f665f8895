/**
 * Behaviour 4 and the session lifetimes: what requireAuth() does with and without a login, and how it fails when
 * it is mounted wrongly.
 */
import express from 'express';
import session from 'express-session';
import { buildApp, startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import type { TestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, sessionIdOf } from './helpers/store.js';
import { oauthErrorHandler, requireAuth } from '../lib/index.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();

let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp({}, { store, config: { idleTimeout: 3600, absoluteTimeout: 7200 } }));
});
afterAll(() => close());

const json = { accept: 'application/json' };

test('a logged-in request gets req.user with sub, claims and tokens', async () => {
  const browser = new Browser();
  await login(browser, app.url, { user: 'bob' });
  const res = await browser.request(`${app.url}/profile`, { headers: json });
  expect(res.status).toBe(200);
  const user = JSON.parse(res.body);
  expect(user).toEqual({
    sub: 'bob',
    claims: expect.objectContaining({ sub: 'bob', email: 'bob@example.com', iss: idp.issuer }),
    accessToken: expect.any(String),
    tokenType: expect.stringMatching(/^bearer$/i),
    expiresAt: expect.any(Number),
    refreshToken: expect.any(String),
    idToken: expect.any(String),
    scope: expect.stringContaining('openid'),
  });
});

test('a browser GET without a login is redirected to /login with returnTo', async () => {
  const res = await new Browser().request(`${app.url}/profile?x=1`);
  expect(res.status).toBe(302);
  expect(res.location).toBe(`${app.url}/login?returnTo=%2Fprofile%3Fx%3D1`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('content-length')).toBe('0');
  expect(res.body).toBe('');
});

test('the bounce keeps an awkward returnTo intact and encoded in Location', async () => {
  const res = await new Browser().request(`${app.url}/profile?u=%E2%9C%93&q=a%20b&r=%2F%2Fevil#frag`);
  expect(res.status).toBe(302);
  const location = new URL(res.location!);
  expect(location.pathname).toBe('/login');
  expect(location.searchParams.get('returnTo')).toBe('/profile?u=%E2%9C%93&q=a%20b&r=%2F%2Fevil');
  expect(res.headers.get('location')).toMatch(/^[\x21-\x7e]+$/);
});

test('an API request without a login gets 401 JSON, never a redirect', async () => {
  const res = await new Browser().request(`${app.url}/api/me`, { headers: json });
  expect(res.status).toBe(401);
  expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', message: expect.stringMatching(/log in/i) });
});

test('a POST without a login gets 401 even from a browser', async () => {
  const res = await new Browser().request(`${app.url}/api/echo`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'text/plain' } });
  expect(res.status).toBe(401);
});

test('a forged or unknown session cookie is simply unauthenticated', async () => {
  const browser = new Browser();
  browser.cookies.push({ name: 'app.sid', value: 's%3Aforged.signature', path: '/', httpOnly: true, secure: false });
  const res = await browser.request(`${app.url}/api/me`, { headers: json });
  expect(res.status).toBe(401);
});

test('the idle lifetime ends a session that has not been used for idleTimeout', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.seenAt -= 3600;
  });
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
  // The session is gone from the store, not just refused once.
  expect(() => editSession(store, sessionIdOf(browser), () => {})).toThrow(/no session/);
});

test('the absolute lifetime ends a session however active it is', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.loginAt -= 7200;
  });
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
});

test('activity is recorded at most once a minute (an unchanged session is not rewritten)', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const sid = sessionIdOf(browser);
  const sets: string[] = [];
  const originalSet = store.set.bind(store);
  store.set = (id, data, cb) => {
    sets.push(id);
    return originalSet(id, data, cb);
  };
  try {
    for (let i = 0; i < 5; i++) expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(200);
    expect(sets.filter((id) => id === sid)).toHaveLength(0);
    editSession(store, sid, (s) => {
      s.oauth.user.seenAt -= 120;
    });
    await browser.request(`${app.url}/api/me`, { headers: json });
    await browser.request(`${app.url}/api/me`, { headers: json });
    expect(sets.filter((id) => id === sid)).toHaveLength(1);
  } finally {
    store.set = originalSet;
  }
});

describe('mounted wrongly', () => {
  let bare: TestServer;
  afterEach(async () => bare?.close());

  test('requireAuth() without oauthLogin() answers 500 not_mounted with a message that says what to mount', async () => {
    bare = await startServer();
    const a = express();
    a.use(session({ secret: 'x', resave: false, saveUninitialized: false }));
    a.get('/p', requireAuth(), (_req, res) => res.send('never'));
    a.use(oauthErrorHandler());
    bare.handle(a);
    const res = await new Browser().request(`${bare.url}/p`, { headers: json });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'not_mounted', message: expect.stringContaining('app.use(oauthLogin(config))') });
  });

  test('oauthLogin() without express-session answers 500 session_missing naming express-session', async () => {
    bare = await startServer();
    buildApp({ server: bare, issuer: idp.issuer, noSession: true });
    const res = await new Browser().request(`${bare.url}/login`, { headers: json });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'session_missing', message: expect.stringContaining('express-session') });
  });
});
