/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0) against the real OP: oidc-provider signs and POSTs
 * the logout tokens. Two users with two browsers (two IdP sessions) each: ending one IdP session ends exactly
 * that app session; a sub-only logout ends every session of that user and no one else's.
 */
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser, formAction, hiddenInputs } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readSession, sessionIdOf } from './helpers/store.js';
import type { BackchannelLogoutEvent } from '../lib/index.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();
const logouts: BackchannelLogoutEvent[] = [];

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url], backchannelLogoutUri: `${app.url}/backchannel-logout` });
  buildApp({
    server: app,
    issuer: idp.issuer,
    store,
    config: { backchannelLogout: true, events: { backchannelLogout: (e) => void logouts.push(e) } },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

const loggedIn = async (browser: Browser) =>
  (await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } })).status === 200;

async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Four browsers: alice and bob, each logged in twice (two IdP sessions). */
async function fourSessions(): Promise<Record<'alice1' | 'alice2' | 'bob1' | 'bob2', Browser>> {
  const b = { alice1: new Browser(), alice2: new Browser(), bob1: new Browser(), bob2: new Browser() };
  await login(b.alice1, app.url, { user: 'alice' });
  await login(b.alice2, app.url, { user: 'alice' });
  await login(b.bob1, app.url, { user: 'bob' });
  await login(b.bob2, app.url, { user: 'bob' });
  for (const browser of Object.values(b)) expect(await loggedIn(browser)).toBe(true);
  return b;
}

test('the session keeps the ID token sid, so the IdP session can be matched later', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const stored = readSession(store, sessionIdOf(browser))!.oauth.user;
  expect(stored.sid).toEqual(expect.any(String));
  expect(stored.claims.sid).toBe(stored.sid);
});

test('ending one IdP session at the IdP ends exactly the app session in that browser (logout token with sid)', async () => {
  const b = await fourSessions();
  const before = logouts.length;
  // alice1 signs out at the IdP directly (not through the app): only the back channel can tell the app.
  const confirm = (await b.alice1.navigate(`${idp.issuer}/session/end?client_id=${CLIENT_ID}`)).at(-1)!;
  const form = hiddenInputs(confirm.body);
  form.set('logout', 'yes');
  await b.alice1.navigate(formAction(confirm.body, confirm.url), { method: 'POST', body: form });
  await waitFor(() => logouts.length > before);
  expect(idp.events).toContain('backchannel.success');
  expect(await loggedIn(b.alice1)).toBe(false);
  expect(await loggedIn(b.alice2)).toBe(true);
  expect(await loggedIn(b.bob1)).toBe(true);
  expect(await loggedIn(b.bob2)).toBe(true);
  expect(logouts.at(-1)).toEqual({ type: 'backchannelLogout', schemaVersion: 1, sub: 'alice', sid: expect.any(String), sessions: 1 });
});

test('a logout token with only a sub ends every session of that user and no one else', async () => {
  const b = await fourSessions();
  const client = await idp.provider.Client.find(CLIENT_ID);
  // The IdP's own code signs and POSTs the token; without a sid it names the user only.
  (client as unknown as { backchannelLogoutSessionRequired: boolean }).backchannelLogoutSessionRequired = false;
  try {
    await (client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> }).backchannelLogout('bob');
  } finally {
    (client as unknown as { backchannelLogoutSessionRequired: boolean }).backchannelLogoutSessionRequired = true;
  }
  expect(await loggedIn(b.bob1)).toBe(false);
  expect(await loggedIn(b.bob2)).toBe(false);
  expect(await loggedIn(b.alice1)).toBe(true);
  expect(await loggedIn(b.alice2)).toBe(true);
  expect(logouts.at(-1)).toEqual({ type: 'backchannelLogout', schemaVersion: 1, sub: 'bob', sessions: expect.any(Number) });
  expect(logouts.at(-1)!.sessions).toBeGreaterThanOrEqual(2);
});

test('the route answers garbage with 400 invalid_request JSON and no-store', async () => {
  const res = await fetch(`${app.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: 'not.a.jwt' }),
  });
  expect(res.status).toBe(400);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(await res.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/logout token was rejected/) });
  const empty = await fetch(`${app.url}/backchannel-logout`, { method: 'POST' });
  expect(empty.status).toBe(400);
  expect((await empty.json()).error).toBe('invalid_request');
});

test('GET on the back-channel route is not a logout', async () => {
  const res = await fetch(`${app.url}/backchannel-logout`);
  expect(res.status).toBe(404);
});
