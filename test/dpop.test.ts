/**
 * Issue 7, DPoP (RFC 9449) against the real OP with nonces required (the first request meets use_dpop_nonce and
 * is retried; later ones carry the remembered nonce, see dpop-nonce.test.ts): the code is bound to a per-login key
 * (dpop_jkt), the access token is bound to it, refresh and UserInfo use it, and fetchWithToken() calls a resource
 * server with proofs. An IdP without DPoP, or one that hands out bearer tokens anyway, is refused.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import { fetchWithToken, oauthErrorHandler, oauthLogin, requireAuth } from '../lib/index.js';
import { testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let parApp: TestServer;
let bearerApp: TestServer;
let idp: TestIdp;
const closers: Array<() => Promise<void>> = [];

function dpopApp(server: TestServer, issuer: string, config: Record<string, unknown> = {}) {
  const a = express();
  a.use(session({ name: 'app.sid', secret: 'test', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  a.use(oauthLogin(testConfig(server, issuer, { dpop: true, ...config })));
  a.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user!.sub, tokenType: req.user!.tokenType, accessToken: req.user!.accessToken, claims: req.user!.claims });
  });
  // A resource call through the helper: the IdP's UserInfo endpoint is a real DPoP-checking resource server.
  a.get('/api/userinfo', requireAuth(), async (req, res, next) => {
    try {
      const upstream = await fetchWithToken(req, `${issuer}/me`);
      res.status(upstream.status).json(await upstream.json());
    } catch (err) {
      next(err);
    }
  });
  a.use(oauthErrorHandler());
  server.handle(a);
}

beforeAll(async () => {
  app = await startServer();
  parApp = await startServer();
  bearerApp = await startServer();
  idp = await startTestIdp({
    appBases: [app.url, parApp.url, bearerApp.url],
    accessTokenTTL: 20, // below refreshSkew: every request refreshes
    // DPoP is optional for the client, so the bearer app below can log in too; this suite's apps all ask for it.
    clientMetadata: {},
    features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } },
  });
  dpopApp(app, idp.issuer, { fetchUserinfo: true });
  dpopApp(parApp, idp.issuer, { pushedAuthorizationRequests: true });
  dpopApp(bearerApp, idp.issuer, { dpop: false });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await app.close();
  await parApp.close();
  await bearerApp.close();
  await idp.close();
});

const me = async (browser: Browser, url = app.url) => {
  const res = await browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });
  return { status: res.status, body: res.status === 200 ? JSON.parse(res.body) : res.body };
};

test('login binds the code to a fresh per-login key (dpop_jkt), retries on use_dpop_nonce, and stores a DPoP-bound token', async () => {
  const browser = new Browser();
  const first = new URL((await browser.request(`${app.url}/login`)).location!).searchParams.get('dpop_jkt');
  const second = new URL((await browser.request(`${app.url}/login`)).location!).searchParams.get('dpop_jkt');
  expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(second).not.toBe(first);
  const nonceErrorsBefore = idp.events.filter((e) => e === 'grant.error').length;
  const { final, hops } = await login(browser, app.url, { returnTo: '/api/me' });
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.sub).toBe('alice');
  expect(user.tokenType).toBe('DPoP');
  // UserInfo (fetchUserinfo: true) needed a proof too: its claims are there.
  expect(user.claims.email).toBe('alice@example.com');
  // The IdP refused the first token request for want of a nonce; openid-client retried with it.
  expect(idp.events.filter((e) => e === 'grant.error').length).toBeGreaterThan(nonceErrorsBefore);
  // The access token is bound (cnf.jkt) to the key whose thumbprint this login sent.
  const jkt = new URL(hops[0]!.location!).searchParams.get('dpop_jkt');
  const stored = await idp.provider.AccessToken.find(user.accessToken);
  expect(stored?.jkt).toBe(jkt);
});

test('refresh uses the same key: the refreshed token is still DPoP-bound to it', async () => {
  const browser = new Browser();
  const { hops } = await login(browser, app.url, { returnTo: '/' });
  const jkt = new URL(hops[0]!.location!).searchParams.get('dpop_jkt');
  const refreshes = idp.grants.refresh_token ?? 0;
  const a = await me(browser);
  const b = await me(browser);
  expect(idp.grants.refresh_token).toBe(refreshes + 2);
  expect(b.body.accessToken).not.toBe(a.body.accessToken);
  expect(b.body.tokenType).toBe('DPoP');
  expect((await idp.provider.AccessToken.find(b.body.accessToken))?.jkt).toBe(jkt);
});

test('fetchWithToken calls a resource server with a proof; the same token without a proof is refused there', async () => {
  const browser = new Browser();
  await login(browser, app.url, { returnTo: '/' });
  const viaHelper = await browser.request(`${app.url}/api/userinfo`, { headers: { accept: 'application/json' } });
  expect(viaHelper.status).toBe(200);
  expect(JSON.parse(viaHelper.body).sub).toBe('alice');
  const { body } = await me(browser);
  const stolen = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${body.accessToken}` } });
  expect(stolen.status).toBe(401);
  const noProof = await fetch(`${idp.issuer}/me`, { headers: { authorization: `DPoP ${body.accessToken}` } });
  expect([400, 401]).toContain(noProof.status); // invalid_dpop_proof
});

test('with PAR (nonces required) the login completes and the token is DPoP-bound', async () => {
  const browser = new Browser();
  const start = await browser.request(`${parApp.url}/login`);
  expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  const { final } = await login(browser, parApp.url, { returnTo: '/api/me' });
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.tokenType).toBe('DPoP');
  expect((await idp.provider.AccessToken.find(user.accessToken))?.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test('without dpop, fetchWithToken sends the bearer token and req.user.tokenType is Bearer', async () => {
  const browser = new Browser();
  const { final } = await login(browser, bearerApp.url, { returnTo: '/api/me' });
  expect(JSON.parse(final.body).tokenType).toBe('Bearer');
  const res = await browser.request(`${bearerApp.url}/api/userinfo`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).sub).toBe('alice');
});

test('dpop: true with an IdP that does not advertise DPoP answers 500 idp_unsupported before any redirect', async () => {
  const hostile = await startHostileIdp();
  const server = await startServer();
  closers.push(() => server.close(), () => hostile.close());
  dpopApp(server, hostile.issuer, { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET });
  const res = await new Browser().request(`${server.url}/login`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ error: 'idp_unsupported', message: expect.stringMatching(/dpop/) });
});

test('an IdP that advertises DPoP but issues a bearer token is refused (502) and nobody is logged in', async () => {
  const hostile = await startHostileIdp();
  hostile.set({ discovery: { dpop_signing_alg_values_supported: ['ES256'] } });
  const server = await startServer();
  closers.push(() => server.close(), () => hostile.close());
  dpopApp(server, hostile.issuer, { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET });
  const browser = new Browser();
  const hops = await browser.navigate(`${server.url}/login`, { headers: { accept: 'application/json' } });
  const callback = hops.find((h) => h.url.startsWith(`${server.url}/callback`))!;
  expect(callback.status).toBe(502);
  expect(JSON.parse(callback.body)).toMatchObject({ error: 'idp_bad_response', message: expect.stringMatching(/bearer token.*dpop: true/) });
  expect((await me(browser, server.url)).status).toBe(401);
});
