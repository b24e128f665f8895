/**
 * Plain OAuth 2.0 logins (scope without openid), against a real authorization server on loopback that knows
 * nothing of OpenID Connect: endpoints from RFC 8414 discovery or from the `server` option, no nonce, PKCE S256,
 * the identity from the profile API, refresh, claim rules, and a profile API that fails in every way a login must
 * survive without a half-made session.
 */
import session from 'express-session';
import { type OAuthLoginConfig, requireAuth } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { type OAuth2StandIn, OAUTH2_CLIENT_ID, OAUTH2_CLIENT_SECRET, startOAuth2StandIn } from './helpers/standins/oauth2.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { endSessionForm, postLogout } from './helpers/logout.js';

let as8414: OAuth2StandIn;
let bare: OAuth2StandIn;
let discovered: TestServer;
let direct: TestServer;
let withFunction: TestServer;
let throwing: TestServer;
let withEndSession: TestServer;
const store = new session.MemoryStore();
const directStore = new session.MemoryStore();

const logins: Array<{ sub: string; stepUp: boolean }> = [];
const client = { clientId: OAUTH2_CLIENT_ID, clientSecret: OAUTH2_CLIENT_SECRET, scope: 'profile roles' };

function routes(app: import('express').Express): void {
  app.get('/admin', requireAuth({ claims: { roles: 'admin' } }), (req, res) => {
    res.json({ sub: req.user?.sub });
  });
  app.get('/strong', requireAuth({ acr: 'urn:mfa' }), (_req, res) => {
    res.send('strong');
  });
}

beforeAll(async () => {
  as8414 = await startOAuth2StandIn();
  bare = await startOAuth2StandIn({ metadata: false });
  discovered = await startServer();
  direct = await startServer();
  buildApp({ server: discovered, issuer: as8414.issuer, store, routes, config: { ...client, discovery: 'oauth2', events: { login: (e) => void logins.push(e) } } });
  const server: OAuthLoginConfig['server'] = {
    authorizationEndpoint: `${bare.issuer}/authorize`,
    tokenEndpoint: `${bare.issuer}/token`,
  };
  buildApp({
    server: direct,
    issuer: bare.issuer,
    store: directStore,
    routes,
    config: { ...client, server, userProfile: { url: `${bare.issuer}/api/profile`, subClaim: 'id' }, httpTimeout: 1000 },
  });
  withEndSession = await startServer();
  buildApp({
    server: withEndSession,
    issuer: bare.issuer,
    config: { ...client, server: { ...server, endSessionEndpoint: `${bare.issuer}/logout` }, userProfile: { url: `${bare.issuer}/api/profile`, subClaim: 'id' } },
  });
  withFunction = await startServer();
  throwing = await startServer();
  const userProfile: OAuthLoginConfig['userProfile'] = async ({ accessToken, fetch }) => {
    const res = await fetch(`${bare.issuer}/api/profile`, { headers: { authorization: `Bearer ${accessToken}` } });
    const p = (await res.json()) as { id: number; username: string; roles: string[] };
    return { sub: p.id, claims: { username: p.username, roles: p.roles } };
  };
  buildApp({ server: withFunction, issuer: bare.issuer, config: { ...client, server, userProfile, httpTimeout: 1000 } });
  buildApp({
    server: throwing,
    issuer: bare.issuer,
    config: {
      ...client,
      server,
      userProfile: async ({ accessToken }) => {
        throw new Error(`profile service down for ${accessToken}`);
      },
    },
  });
});
afterEach(() => {
  as8414.reset();
  bare.reset();
});
afterAll(async () => {
  await Promise.all([discovered.close(), direct.close(), withFunction.close(), throwing.close(), withEndSession.close(), as8414.close(), bare.close()]);
});

const json = { accept: 'application/json' };

/** GET /login and follow the redirects through the authorization server back to the app. */
async function login(browser: Browser, app: TestServer) {
  const hops = await browser.navigate(`${app.url}/login?returnTo=${encodeURIComponent('/profile')}`);
  return { hops, last: hops.at(-1)! };
}

test('RFC 8414 discovery: the login sends state and PKCE S256 but no nonce, and the userinfo sub becomes req.user.sub', async () => {
  const browser = new Browser();
  const { last } = await login(browser, discovered);
  expect(last.status).toBe(200);
  expect(last.url).toBe(`${discovered.url}/profile`);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('ada-sub');
  expect(user.claims).toMatchObject({ sub: 'ada-sub', name: 'Ada', roles: ['admin', 'staff'] });
  expect(user.idToken).toBeUndefined();
  expect(logins.at(-1)).toMatchObject({ sub: 'ada-sub', stepUp: false });
  expect(as8414.hits['/.well-known/oauth-authorization-server']).toBe(1);
  expect(as8414.hits['/.well-known/openid-configuration']).toBeUndefined();
  const sent = as8414.authorizeRequests.at(-1)!;
  expect(sent.get('state')).toMatch(/^[\w-]{43,}$/);
  expect(sent.get('code_challenge_method')).toBe('S256');
  expect(sent.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  expect(sent.has('nonce')).toBe(false);
  expect(sent.get('scope')).toBe('profile roles');
});

test('server endpoints: no discovery request at all, and a numeric profile id becomes a string sub', async () => {
  const browser = new Browser();
  const { last } = await login(browser, direct);
  expect(last.status).toBe(200);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('42');
  expect(user.claims).toMatchObject({ id: 42, username: 'ada', sub: '42' });
  expect(Object.keys(bare.hits).filter((p) => p.startsWith('/.well-known/'))).toEqual([]);
  expect(bare.authorizeRequests.at(-1)!.has('nonce')).toBe(false);
});

test('the session id is regenerated at login and the pending login is gone', async () => {
  const browser = new Browser();
  await browser.navigate(`${discovered.url}/`);
  const hops = await browser.navigate(`${discovered.url}/login`, { stopAt: (u) => u.startsWith(`${discovered.url}/callback`) });
  const before = sessionIdOf(browser);
  await browser.navigate(hops.at(-1)!.location!);
  const after = sessionIdOf(browser);
  expect(after).not.toBe(before);
  const stored = readSession(store, after)!;
  expect(stored.oauth.user.sub).toBe('ada-sub');
  expect(Object.keys(stored.oauth.pending ?? {})).toEqual([]);
});

test('an expired access token is refreshed with the rotating refresh token; the identity stays', async () => {
  const browser = new Browser();
  await login(browser, discovered);
  const first = JSON.parse((await browser.request(`${discovered.url}/api/me`, { headers: json })).body);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });
  const before = as8414.grants.refresh_token ?? 0;
  const fresh = await browser.request(`${discovered.url}/api/me`, { headers: json });
  expect(fresh.status).toBe(200);
  const body = JSON.parse(fresh.body);
  expect(body.sub).toBe('ada-sub');
  expect(body.accessToken).not.toBe(first.accessToken);
  expect(as8414.grants.refresh_token).toBe(before + 1);
});

test('requireAuth claim rules read the profile claims: admin passes, staff-only gets 403', async () => {
  const ada = new Browser();
  await login(ada, discovered);
  expect((await ada.request(`${discovered.url}/admin`, { headers: json })).status).toBe(200);
  as8414.as('bob');
  const bob = new Browser();
  await login(bob, discovered);
  const refused = await bob.request(`${discovered.url}/admin`, { headers: json });
  expect(refused.status).toBe(403);
  expect(JSON.parse(refused.body).error).toBe('forbidden');
});

test('a step-up rule cannot be met without an ID token: 403 step_up_failed, never a redirect loop', async () => {
  const browser = new Browser();
  await login(browser, discovered);
  const res = await browser.request(`${discovered.url}/strong`);
  expect(res.status).toBe(403);
  expect(res.body).toMatch(/cannot prove/);
});

test('an ID token in the token response is neither used nor kept', async () => {
  as8414.set({ strayIdToken: true });
  const browser = new Browser();
  const { last } = await login(browser, discovered);
  expect(last.status).toBe(200);
  const stored = readSession(store, sessionIdOf(browser))!.oauth.user;
  expect(stored.sub).toBe('ada-sub');
  expect(stored.tokens.idToken).toBeUndefined();
});

test.each<[string, Parameters<OAuth2StandIn['set']>[0]['profile'], number, string]>([
  ['answers HTTP 500', 'status500', 502, 'profile_invalid'],
  ['answers something that is not JSON', 'garbage', 502, 'profile_invalid'],
  ['answers a JSON array', 'array', 502, 'profile_invalid'],
  ['answers without the subject claim', 'no-sub', 502, 'profile_invalid'],
  ['refuses the access token with a challenge', 'challenge', 502, 'profile_invalid'],
  ['never answers', 'hang', 504, 'idp_timeout'],
])('a profile endpoint that %s: a clear error page and no session', async (_name, profile, status, code) => {
  bare.set({ profile });
  const browser = new Browser();
  const { last } = await login(browser, direct);
  expect(last.url).toMatch(`${direct.url}/callback`);
  expect(last.status).toBe(status);
  expect(last.body).toMatch(code === 'idp_timeout' ? /did not answer within 1000 ms/ : /profile endpoint did not say who you are/);
  expect(last.body).not.toMatch(/[?&]code=/);
  bare.reset();
  const after = await browser.request(`${direct.url}/api/me`, { headers: json });
  expect(after.status).toBe(401);
  const stored = browser.cookie('app.sid') && readSession(directStore, sessionIdOf(browser));
  expect(stored?.oauth?.user).toBeUndefined();
});

test('a userProfile function reads the profile with the middleware\'s fetch; its numeric sub becomes a string', async () => {
  const browser = new Browser();
  const { last } = await login(browser, withFunction);
  expect(last.status).toBe(200);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('42');
  expect(user.claims).toEqual({ sub: '42', username: 'ada', roles: ['admin', 'staff'] });
});

test('a userProfile function that fails, or a profile that hangs it: 502/504, no session, no token in the message', async () => {
  const browser = new Browser();
  const { last } = await login(browser, throwing);
  expect(last.status).toBe(502);
  expect(last.body).toMatch(/profile_invalid/);
  expect(last.body).not.toMatch(/profile service down/);
  expect((await browser.request(`${throwing.url}/api/me`, { headers: json })).status).toBe(401);
  bare.set({ profile: 'hang' });
  const slow = await login(new Browser(), withFunction);
  expect(slow.last.status).toBe(504);
});

test('logout ends the session locally and revokes the tokens at the RFC 8414 revocation endpoint', async () => {
  const browser = new Browser();
  await login(browser, discovered);
  const before = as8414.hits['/revoke'] ?? 0;
  const out = await browser.request(`${discovered.url}/logout`, { method: 'POST', headers: { origin: discovered.url, 'sec-fetch-site': 'same-origin' } });
  expect(out.status).toBe(302);
  expect(out.location).not.toContain(as8414.issuer);
  expect(as8414.hits['/revoke']).toBeGreaterThan(before);
  expect((await browser.request(`${discovered.url}/api/me`, { headers: json })).status).toBe(401);
});

test('with server.endSessionEndpoint, logout sends the browser there with client_id and state, no id_token_hint', async () => {
  const browser = new Browser();
  await login(browser, withEndSession);
  const page = await postLogout(browser, withEndSession.url);
  const { action, fields } = endSessionForm(page);
  expect(action).toBe(`${bare.issuer}/logout`);
  expect(fields.get('client_id')).toBe(OAUTH2_CLIENT_ID);
  expect(fields.get('post_logout_redirect_uri')).toBe(`${withEndSession.url}/logout`);
  expect(fields.get('state')).toMatch(/^[\w-]{43,}$/);
  expect(fields.has('id_token_hint')).toBe(false);
  expect((await browser.request(`${withEndSession.url}/api/me`, { headers: json })).status).toBe(401);
});
