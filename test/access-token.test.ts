/**
 * Access tokens for APIs against the real OP: `authorizationParams.audience` / `resource` reach the authorization
 * request, and getAccessToken(req) gives a fresh access token outside requireAuth (refreshing an expiring one).
 */
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { OAuthLoginError, getAccessToken } from '../lib/index.js';

let app: TestServer;
let apiApp: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();

beforeAll(async () => {
  app = await startServer();
  apiApp = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  buildApp({
    server: app,
    issuer: idp.issuer,
    store,
    routes: (express) => {
      express.get('/call-api', async (req, res) => {
        try {
          res.json({ token: await getAccessToken(req) });
        } catch (err) {
          const e = err as OAuthLoginError;
          res.status(e.status).json({ error: e.code, isOAuthError: err instanceof OAuthLoginError });
        }
      });
    },
  });
  // Only its authorization request is looked at: the test IdP knows no resource server for `resource`.
  buildApp({
    server: apiApp,
    issuer: idp.issuer,
    config: { authorizationParams: { audience: 'https://api.example', resource: 'https://api.example/' } },
  });
});
afterAll(async () => {
  await app.close();
  await apiApp.close();
  await idp.close();
});

test('authorizationParams.audience and resource are passed through to the authorization request', async () => {
  const res = await new Browser().request(`${apiApp.url}/login`);
  const params = new URL(res.location!).searchParams;
  expect(params.get('audience')).toBe('https://api.example');
  expect(params.get('resource')).toBe('https://api.example/');
});

test('getAccessToken returns the current token without a refresh while it is fresh', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const stored = readSession(store, sessionIdOf(browser))!.oauth.user.tokens.accessToken;
  const refreshes = idp.grants.refresh_token ?? 0;
  const res = await browser.request(`${app.url}/call-api`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).token).toBe(stored);
  expect(idp.grants.refresh_token ?? 0).toBe(refreshes);
});

test('getAccessToken refreshes an expiring token and stores the new one', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const sid = sessionIdOf(browser);
  const old = readSession(store, sid)!.oauth.user.tokens.accessToken;
  editSession(store, sid, (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) + 5;
  });
  const refreshes = idp.grants.refresh_token ?? 0;
  const res = await browser.request(`${app.url}/call-api`, { headers: { accept: 'application/json' } });
  const token = JSON.parse(res.body).token;
  expect(token).toEqual(expect.any(String));
  expect(token).not.toBe(old);
  expect(idp.grants.refresh_token).toBe(refreshes + 1);
  expect(readSession(store, sid)!.oauth.user.tokens.accessToken).toBe(token);
});

test('getAccessToken without a login rejects with 401 unauthenticated', async () => {
  const res = await new Browser().request(`${app.url}/call-api`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(401);
  expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', isOAuthError: true });
});
