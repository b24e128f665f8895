/** Behaviour 1: GET /login redirects to the authorization endpoint with state, nonce and PKCE S256. */
import { createHash } from 'node:crypto';
import { jest } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { oauthLogin } from '../lib/index.js';
import { startAppWithIdp, testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { CLIENT_ID, type TestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { login } from './helpers/flow.js';

let app: TestServer;
let idp: TestIdp;

let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp());
});
afterAll(() => close());

test('GET /login answers 302 to the authorization endpoint with every required parameter', async () => {
  const browser = new Browser();
  const res = await browser.request(`${app.url}/login`);
  expect(res.status).toBe(302);
  const url = new URL(res.location!);
  expect(url.origin + url.pathname).toBe(`${idp.issuer}/auth`);
  const q = url.searchParams;
  expect(q.get('response_type')).toBe('code');
  expect(q.get('client_id')).toBe(CLIENT_ID);
  expect(q.get('redirect_uri')).toBe(`${app.url}/callback`);
  expect(q.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'email']));
  expect(q.get('code_challenge_method')).toBe('S256');
  expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  // >= 128 bits of randomness each: base64url of 32 bytes is 43 characters.
  expect(Buffer.from(q.get('state')!, 'base64url').length).toBeGreaterThanOrEqual(16);
  expect(Buffer.from(q.get('nonce')!, 'base64url').length).toBeGreaterThanOrEqual(16);
  expect(q.get('state')).not.toBe(q.get('nonce'));
  expect(res.headers.get('cache-control')).toBe('no-store');
  // A bodiless redirect (routes/redirect.ts): the browser follows Location and never shows a body.
  expect(res.headers.get('content-length')).toBe('0');
  expect(res.body).toBe('');
});

test('state, nonce and challenge are fresh on every login', async () => {
  const browser = new Browser();
  const a = new URL((await browser.request(`${app.url}/login`)).location!).searchParams;
  const b = new URL((await browser.request(`${app.url}/login`)).location!).searchParams;
  for (const p of ['state', 'nonce', 'code_challenge']) expect(a.get(p)).not.toBe(b.get(p));
});

test('the session cookie carries only an opaque id and is HttpOnly and SameSite=Lax', async () => {
  const browser = new Browser();
  const res = await browser.request(`${app.url}/login`);
  const state = new URL(res.location!).searchParams.get('state')!;
  const cookie = browser.cookie('app.sid')!;
  expect(cookie.httpOnly).toBe(true);
  expect(cookie.sameSite?.toLowerCase()).toBe('lax');
  expect(decodeURIComponent(cookie.value)).not.toContain(state);
  expect(cookie.value.length).toBeLessThan(120);
});

test('a full login through the IdP ends at returnTo with a logged-in session', async () => {
  const browser = new Browser();
  const { final } = await login(browser, app.url, { returnTo: '/profile?tab=1' });
  expect(final.url).toBe(`${app.url}/profile?tab=1`);
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.sub).toBe('alice');
  expect(user.claims.email).toBe('alice@example.com');
  expect(user.claims.nonce).toBeUndefined();
  expect(user.accessToken).toEqual(expect.any(String));
  expect(user.refreshToken).toEqual(expect.any(String));
  expect(user.idToken.split('.')).toHaveLength(3);
  expect(user.expiresAt).toBeGreaterThan(Date.now() / 1000);
  expect(idp.grants.authorization_code).toBeGreaterThanOrEqual(1);
});

test('the PKCE verifier sent to the token endpoint matches the challenge (the IdP requires PKCE)', async () => {
  // oidc-provider is configured with pkce.required: a login only succeeds when the S256 verifier matches.
  const browser = new Browser();
  const first = await browser.request(`${app.url}/login`);
  const challenge = new URL(first.location!).searchParams.get('code_challenge')!;
  expect(challenge).not.toBe(createHash('sha256').update('').digest('base64url'));
  const { final } = await login(browser, app.url);
  expect(final.status).toBe(200);
});

test('a SameSite=Strict session cookie (which the IdP redirect would drop) triggers a warning that says what to use', async () => {
  const strict = await startServer();
  const a = express();
  a.use(session({ name: 'strict.sid', secret: 'x', resave: false, saveUninitialized: false, cookie: { sameSite: 'strict' } }));
  a.use(oauthLogin(testConfig(strict, idp.issuer)));
  strict.handle(a);
  const emit = jest.spyOn(process, 'emitWarning');
  try {
    const res = await new Browser().request(`${strict.url}/login`);
    expect(res.status).toBe(302);
    expect(emit).toHaveBeenCalledWith(expect.stringMatching(/SameSite=Strict \(use "lax"/), expect.objectContaining({ type: 'SecurityWarning' }));
  } finally {
    emit.mockRestore();
    await strict.close();
  }
});
