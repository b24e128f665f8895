/**
 * Issue 14, token exchange (RFC 8693) against oidc-provider with the grant registered by the test helper
 * (test/helpers/token-exchange.ts) and a downstream API that accepts only tokens issued for its audience:
 * `exchangeToken(req, { audience, resource, scope })` and `fetchWithToken(req, url, { audience })`. The exchanged
 * token is cached in the session per request until it expires, exchanged again after, and never logged.
 */
import { jest } from '@jest/globals';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { exchangeToken, fetchWithToken } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { type Exchange, TOKEN_EXCHANGE, enableTokenExchange, startResourceServer } from './helpers/token-exchange.js';

const API = 'https://orders.api.test';
const OTHER_API = 'https://billing.api.test';

let app: TestServer;
let idp: TestIdp;
let api: TestServer & { calls: string[] };
let exchanges: Exchange[];
const logged: string[] = [];
const closers: Array<() => Promise<void>> = [];

const route = (fn: (req: Request, res: Response) => Promise<void>): RequestHandler => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url], clientMetadata: { grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] } });
  exchanges = enableTokenExchange(idp, { audiences: [API, OTHER_API], ttl: 120 });
  api = await startResourceServer(idp, API);
  buildApp({
    server: app,
    issuer: idp.issuer,
    config: {
      // Everything the middleware reports, as a log would see it.
      events: {
        login: (e) => void logged.push(JSON.stringify(e)),
        refresh: (e) => void logged.push(JSON.stringify(e)),
        error: (e) => void logged.push(JSON.stringify(e)),
      },
    },
    routes: (a) => {
      // Test-only routes that show the token to the test; a real app never sends a token to the browser.
      a.get('/api/exchange', route(async (req, res) => {
        const { audience, resource, scope } = req.query as Record<string, string | undefined>;
        res.json(await exchangeToken(req, { ...(audience && { audience }), ...(resource && { resource }), ...(scope && { scope }) }));
      }));
      a.get('/api/orders', route(async (req, res) => {
        const upstream = await fetchWithToken(req, `${api.url}/orders`, { audience: API });
        res.status(upstream.status).json(await upstream.json());
      }));
    },
  });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await api.close();
  await app.close();
  await idp.close();
});

const json = { headers: { accept: 'application/json' } };
const get = async (browser: Browser, path: string) => {
  const res = await browser.request(`${app.url}${path}`, json);
  return { status: res.status, body: JSON.parse(res.body) };
};

async function loggedIn(): Promise<{ browser: Browser; accessToken: string }> {
  const browser = new Browser();
  const { final } = await login(browser, app.url, { returnTo: '/api/me' });
  return { browser, accessToken: JSON.parse(final.body).accessToken };
}

test('exchangeToken exchanges the user\'s access token for one the downstream API accepts, and the IdP saw exactly that', async () => {
  const { browser, accessToken } = await loggedIn();
  const before = exchanges.length;
  const { status, body } = await get(browser, `/api/exchange?audience=${encodeURIComponent(API)}`);
  expect(status).toBe(200);
  expect(body).toEqual({
    accessToken: expect.any(String),
    tokenType: 'Bearer',
    issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    expiresAt: expect.any(Number),
  });
  expect(body.expiresAt - Date.now() / 1000).toBeGreaterThan(100);
  expect(exchanges.slice(before)).toEqual([{ subjectToken: accessToken, audience: API, issued: body.accessToken }]);
  const issued = await idp.provider.AccessToken.find(body.accessToken);
  expect(issued).toMatchObject({ accountId: 'alice', clientId: CLIENT_ID, aud: API, gty: 'token-exchange' });
  // The downstream API takes the exchanged token, and refuses the user's own one (not issued for it).
  const ok = await fetch(`${api.url}/x`, { headers: { authorization: `Bearer ${body.accessToken}` } });
  expect(ok.status).toBe(200);
  const own = await fetch(`${api.url}/x`, { headers: { authorization: `Bearer ${accessToken}` } });
  expect(own.status).toBe(401);
});

test('fetchWithToken(req, url, { audience }) calls the API with the exchanged token; it is cached per audience and scope', async () => {
  const { browser } = await loggedIn();
  const before = exchanges.length;
  const first = await get(browser, '/api/orders');
  expect(first).toEqual({ status: 200, body: { sub: 'alice', aud: API, scope: 'openid profile email' } });
  expect(exchanges.length).toBe(before + 1);
  const sent = api.calls.at(-1);
  expect(sent).toBe(exchanges.at(-1)!.issued);
  // Cached in the session: the same audience again needs no exchange, and exchangeToken returns the same token.
  expect((await get(browser, '/api/orders')).status).toBe(200);
  expect((await get(browser, `/api/exchange?audience=${encodeURIComponent(API)}`)).body.accessToken).toBe(sent);
  expect(exchanges.length).toBe(before + 1);
  // Another audience, or the same one with another scope, is another exchange.
  const other = await get(browser, `/api/exchange?audience=${encodeURIComponent(OTHER_API)}`);
  const narrower = await get(browser, `/api/exchange?audience=${encodeURIComponent(API)}&scope=openid`);
  expect(new Set([sent, other.body.accessToken, narrower.body.accessToken]).size).toBe(3);
  expect(exchanges.slice(-2).map((e) => [e.audience, e.scope])).toEqual([[OTHER_API, undefined], [API, 'openid']]);
  expect(narrower.body.scope).toBe('openid');
  // Another session has its own cache.
  const { browser: second } = await loggedIn();
  expect((await get(second, '/api/orders')).status).toBe(200);
  expect(exchanges.length).toBe(before + 4);
});

test('an exchanged token about to expire is exchanged again; concurrent calls of one session share one exchange', async () => {
  const { browser } = await loggedIn();
  const before = exchanges.length;
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => get(browser, `/api/exchange?resource=${encodeURIComponent(API)}`)));
  expect(exchanges.length).toBe(before + 1);
  expect(new Set([a!.body.accessToken, b!.body.accessToken, c!.body.accessToken]).size).toBe(1);
  // 100 s later the 120 s token is within refreshSkew (30 s) of its expiry: a new exchange, a new token.
  const realNow = Date.now.bind(Date);
  const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 100_000);
  try {
    const again = await get(browser, `/api/exchange?resource=${encodeURIComponent(API)}`);
    expect(again.status).toBe(200);
    expect(again.body.accessToken).not.toBe(a!.body.accessToken);
    expect(exchanges.length).toBe(before + 2);
    expect(exchanges.at(-1)!.resource).toBe(API);
  } finally {
    clock.mockRestore();
  }
});

test('an audience the IdP refuses answers 502 token_exchange_failed naming invalid_target; nothing is cached', async () => {
  const { browser, accessToken } = await loggedIn();
  const before = exchanges.length;
  for (let i = 0; i < 2; i++) {
    const res = await get(browser, `/api/exchange?audience=${encodeURIComponent('https://not-allowed.test')}`);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'token_exchange_failed', message: expect.stringMatching(/\(invalid_target\)/) });
    expect(res.body.message).not.toContain(accessToken);
  }
  expect(exchanges.slice(before).map((e) => e.error)).toEqual(['invalid_target', 'invalid_target']);
});

test('without a login exchangeToken answers 401 and asks the IdP nothing', async () => {
  const before = exchanges.length;
  const res = await get(new Browser(), `/api/exchange?audience=${encodeURIComponent(API)}`);
  expect(res).toEqual({ status: 401, body: { error: 'unauthenticated', message: expect.any(String) } });
  expect(exchanges.length).toBe(before);
});

test('no token, subject or exchanged, ever reaches an event payload', () => {
  const tokens = exchanges.flatMap((e) => [e.subjectToken, e.issued ?? '']).filter(Boolean);
  expect(tokens.length).toBeGreaterThan(5);
  expect(logged.length).toBeGreaterThan(3);
  for (const line of logged) for (const token of tokens) expect(line).not.toContain(token);
});

test('an IdP that does not offer the token exchange grant answers 500 idp_unsupported', async () => {
  const plainApp = await startServer();
  const plainIdp = await startTestIdp({ appBases: [plainApp.url] });
  closers.push(() => plainApp.close(), () => plainIdp.close());
  buildApp({
    server: plainApp,
    issuer: plainIdp.issuer,
    routes: (a) => a.get('/api/exchange', route(async (req, res) => void res.json(await exchangeToken(req, { audience: API })))),
  });
  const browser = new Browser();
  await login(browser, plainApp.url, { returnTo: '/' });
  const res = await browser.request(`${plainApp.url}/api/exchange`, json);
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ error: 'idp_unsupported', message: expect.stringMatching(/token exchange grant/) });
});
