/**
 * Revocation at logout (RFC 7009): the real OP's revocation endpoint sees the refresh token exactly once per logout
 * (and the still-valid access token), with the client's authentication, and neither works afterwards. A hand-made
 * endpoint that hangs, fails or drops the connection never slows the logout past httpTimeout nor fails it; the app
 * hears about it through the `error` event, which names no token.
 */
import session from 'express-session';
import { buildApp, startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type HostileIdp, HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import type { TestIdp } from './helpers/idp.js';
import { endSessionForm, postLogout } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readSession, sessionIdOf } from './helpers/store.js';
import type { ErrorEvent } from '../lib/index.js';

const store = new session.MemoryStore();

describe('the real OP', () => {
  let app: TestServer;
  let idp: TestIdp;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, idp, close } = await startAppWithIdp({}, { store }));
  });
  afterAll(() => close());

  test.each([
    ['a same-origin POST', (b: Browser, url: string) => postLogout(b, url)],
    ['the tokenised link', (b: Browser, url: string) => {
      const token = readSession(store, sessionIdOf(b))!.oauth.user.logoutToken;
      return b.request(`${url}/logout?confirm=${token}`, { headers: { 'sec-fetch-site': 'same-origin' } });
    }],
  ])('%s revokes the refresh token exactly once and the access token; neither works afterwards', async (_name, logout) => {
    const browser = new Browser();
    await login(browser, app.url);
    const tokens = readSession(store, sessionIdOf(browser))!.oauth.user.tokens;
    expect(tokens.refreshToken).toEqual(expect.any(String));
    const before = idp.revocations.length;
    const res = await logout(browser, app.url);
    endSessionForm(res);
    const seen = idp.revocations.slice(before);
    expect(seen.filter((r) => r.token === tokens.refreshToken)).toEqual([{ token: tokens.refreshToken, hint: 'refresh_token' }]);
    expect(seen.filter((r) => r.token === tokens.accessToken)).toEqual([{ token: tokens.accessToken, hint: 'access_token' }]);
    expect(seen).toHaveLength(2);
    // A later refresh with the revoked refresh token fails at the IdP, and the access token is dead too.
    expect(await idp.refreshWith(tokens.refreshToken)).toBe(400);
    const userinfo = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    expect(userinfo.status).toBe(401);
  });

  test('a refused logout revokes nothing', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const before = idp.revocations.length;
    expect((await postLogout(browser, app.url, { origin: 'https://evil.example' })).status).toBe(403);
    confirmationPageOnly(await browser.request(`${app.url}/logout`));
    expect(idp.revocations.length).toBe(before);
  });
});

function confirmationPageOnly(hop: { status: number; body: string }): void {
  expect(hop.status).toBe(200);
  expect(hop.body).toContain('<h1>Sign out?</h1>');
}

describe('a revocation endpoint that misbehaves', () => {
  let hostile: HostileIdp;
  let app: TestServer;
  const errors: ErrorEvent[] = [];
  const HTTP_TIMEOUT = 1000;
  beforeAll(async () => {
    hostile = await startHostileIdp();
    app = await startServer();
    buildApp({
      server: app,
      issuer: hostile.issuer,
      store,
      config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: HTTP_TIMEOUT, events: { error: (e) => void errors.push(e) } },
    });
  });
  afterAll(async () => {
    await app.close();
    await hostile.close();
  });
  afterEach(() => hostile.reset());

  /** Logs in, logs out, and says how long the logout took and what it answered. */
  async function timedLogout() {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    const tokens = readSession(store, sid)!.oauth.user.tokens;
    errors.length = 0;
    const started = performance.now();
    const res = await postLogout(browser, app.url);
    const ms = performance.now() - started;
    const reported = [...errors];
    const me = await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
    errors.splice(0, errors.length, ...reported);
    return { res, ms, tokens, ended: readSession(store, sid) === undefined && me.status === 401 };
  }

  test('an honest endpoint gets both tokens with client_secret_basic, and no error is reported', async () => {
    const before = hostile.revocationRequests.length;
    const { res, tokens, ended } = await timedLogout();
    expect(res.status).toBe(302);
    expect(ended).toBe(true);
    const seen = hostile.revocationRequests.slice(before);
    expect(seen.map((r) => [r.body.get('token'), r.body.get('token_type_hint'), r.authenticated]).sort()).toEqual(
      [[tokens.accessToken, 'access_token', true], [tokens.refreshToken, 'refresh_token', true]].sort(),
    );
    expect(errors).toEqual([]);
  });

  test('an endpoint that hangs: the logout completes within httpTimeout (plus a margin) and ends the session', async () => {
    hostile.set({ revocation: 'hang' });
    const { res, ms, ended } = await timedLogout();
    console.log(`logout with a hanging revocation endpoint took ${Math.round(ms)} ms (httpTimeout ${HTTP_TIMEOUT} ms)`);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/`);
    expect(ended).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(HTTP_TIMEOUT - 50);
    expect(ms).toBeLessThan(HTTP_TIMEOUT + 1000);
    expect(errors.map((e) => e.code)).toEqual(['revocation_failed', 'revocation_failed']);
    expect(errors[0]!.message).toMatch(new RegExp(`no answer within ${HTTP_TIMEOUT} ms`));
  });

  test.each([
    ['answers 503', { revocation: { status: 503, body: { error: 'temporarily_unavailable' } } }, /it answered HTTP 503\)/],
    ['answers 400 invalid_request', { revocation: { status: 400, body: { error: 'invalid_request' } } }, /HTTP 400 invalid_request/],
    ['refuses the client (401)', { revocation: { status: 401, body: { error: 'invalid_client' } } }, /HTTP 401/],
    ['drops the connection', { revocation: 'drop' as const }, /could not be reached/],
  ])('an endpoint that %s: the logout still happens at once, reported as an error event without any token', async (_name, m, message) => {
    hostile.set(m);
    const { res, ms, tokens, ended } = await timedLogout();
    expect(res.status).toBe(302);
    expect(ended).toBe(true);
    expect(ms).toBeLessThan(HTTP_TIMEOUT);
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e).toEqual({ type: 'error', schemaVersion: 1, code: 'revocation_failed', status: 502, message: expect.stringMatching(message), path: '/logout' });
    const text = JSON.stringify(errors);
    for (const secret of [tokens.accessToken, tokens.refreshToken, tokens.idToken, HOSTILE_CLIENT_SECRET]) expect(text).not.toContain(secret);
  });

  test('no revocation_endpoint advertised: nothing is sent and nothing reported', async () => {
    hostile.set({ discovery: { revocation_endpoint: undefined } });
    // Discovery is cached: this app instance saw the endpoint, so use a fresh one.
    const fresh = await startServer();
    try {
      buildApp({ server: fresh, issuer: hostile.issuer, store, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, events: { error: (e) => void errors.push(e) } } });
      const browser = new Browser();
      await login(browser, fresh.url);
      errors.length = 0;
      const before = hostile.revocationRequests.length;
      expect((await postLogout(browser, fresh.url)).status).toBe(302);
      expect(hostile.revocationRequests.length).toBe(before);
      expect(errors).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});
