/**
 * providers.github() against the GitHub stand-in (example-app/github.js, GitHub's documented shapes on loopback):
 * the consent page, the form-posted client secret, JSON token responses, errors with status 200, the numeric id as
 * `sub`, the verified primary e-mail only, GitHub App refresh tokens, and a /user that fails.
 */
import session from 'express-session';
import { providers } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, type GithubStandIn, loginWithGithub, startGithub } from './helpers/standins/github.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';

let app: TestServer;
let gh: GithubStandIn;
let appsExpiring: TestServer;
let ghApp: GithubStandIn;
const store = new session.MemoryStore();
const json = { accept: 'application/json' };

beforeAll(async () => {
  app = await startServer();
  appsExpiring = await startServer();
  gh = await startGithub(app.url);
  ghApp = await startGithub(appsExpiring.url, { expiringTokens: true });
  const config = (enterpriseUrl: string) => ({
    ...providers.github({ enterpriseUrl }),
    clientId: GITHUB_CLIENT_ID,
    clientSecret: GITHUB_CLIENT_SECRET,
    httpTimeout: 1000,
  });
  buildApp({ server: app, issuer: gh.url, store, config: { ...config(gh.url), issuer: undefined } });
  buildApp({ server: appsExpiring, issuer: ghApp.url, store, config: { ...config(ghApp.url), issuer: undefined } });
});
afterEach(() => gh.reset());
afterAll(async () => {
  await Promise.all([app.close(), appsExpiring.close(), gh.close(), ghApp.close()]);
});

test('the preset is data: GitHub.com endpoints by default, Enterprise Server ones with enterpriseUrl', () => {
  const dotcom = providers.github();
  expect(dotcom.server).toEqual({
    issuer: 'https://github.com',
    authorizationEndpoint: 'https://github.com/login/oauth/authorize',
    tokenEndpoint: 'https://github.com/login/oauth/access_token',
    userinfoEndpoint: 'https://api.github.com/user',
  });
  expect(dotcom.scope).toBe('read:user user:email');
  expect(providers.github({ enterpriseUrl: 'https://ghe.example.com/' }).server?.userinfoEndpoint).toBe('https://ghe.example.com/api/v3/user');
});

test('login: PKCE S256 and the secret in the form, a JSON token response, the numeric id as sub, the verified primary e-mail', async () => {
  const browser = new Browser();
  const hops = await loginWithGithub(browser, app.url, { returnTo: '/profile' });
  const last = hops.at(-1)!;
  expect(last.status).toBe(200);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('583231');
  expect(user.claims).toMatchObject({ id: 583231, login: 'octocat', name: 'The Octocat', email: 'octocat@github.example', email_verified: true });
  const authorize = gh.requests.find((r) => r.path === '/login/oauth/authorize')!;
  expect(authorize.params.get('code_challenge_method')).toBe('S256');
  expect(authorize.params.has('nonce')).toBe(false);
  const token = gh.requests.filter((r) => r.path === '/login/oauth/access_token').at(-1)!;
  expect(token.params.get('client_secret')).toBe(GITHUB_CLIENT_SECRET);
  expect(token.params.get('code_verifier')).toMatch(/^[\w-]{43,128}$/);
  expect(token.headers.accept).toMatch(/application\/json/);
  expect(token.headers.authorization).toBeUndefined();
});

test('an unverified primary e-mail is not used: the user has no email claim', async () => {
  const browser = new Browser();
  const last = (await loginWithGithub(browser, app.url, { login: 'hubot', returnTo: '/profile' })).at(-1)!;
  expect(last.status).toBe(200);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('7218');
  expect(user.claims.email).toBeUndefined();
  expect(user.claims.email_verified).toBeUndefined();
  expect(JSON.stringify(user.claims)).not.toContain('unverified.example');
});

test.each(['bad_verification_code', 'incorrect_client_credentials', 'redirect_uri_mismatch'])(
  'a token error GitHub sends with status 200 (%s) is a token endpoint error, and no session is made',
  async (error) => {
    gh.set({ tokenError: error });
    const browser = new Browser();
    const last = (await loginWithGithub(browser, app.url)).at(-1)!;
    expect(last.url).toContain('/callback');
    expect(last.status).toBe(400);
    expect(last.body).toContain(`The identity provider refused the token request (${error})`);
    gh.reset();
    expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
  },
);

test('Cancel on the consent page: access_denied, 403, no session', async () => {
  const browser = new Browser();
  const last = (await loginWithGithub(browser, app.url, { cancel: true })).at(-1)!;
  expect(last.status).toBe(403);
  expect(last.body).toContain('access_denied');
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
});

test.each<['status500' | 'garbage' | 'no-id' | 'hang', number, RegExp]>([
  ['status500', 502, /GitHub.{1,6}s \/user did not say who you are \(HTTP 500\)/],
  ['garbage', 502, /GitHub.{1,6}s \/user did not say who you are/],
  ['no-id', 502, /GitHub.{1,6}s \/user did not say who you are/],
  ['hang', 504, /did not answer within 1000 ms/],
])('a /user that fails (%s): a clear error page, no session', async (user, status, message) => {
  gh.set({ user });
  const browser = new Browser();
  const last = (await loginWithGithub(browser, app.url)).at(-1)!;
  expect(last.status).toBe(status);
  expect(last.body).toMatch(message);
  gh.reset();
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
});

test('GitHub App user tokens expire: the refresh token is used and rotated, a reused one is refused', async () => {
  const browser = new Browser();
  await loginWithGithub(browser, appsExpiring.url);
  const sid = sessionIdOf(browser);
  const before = readSession(store, sid)!.oauth.user.tokens;
  expect(before.refreshToken).toMatch(/^ghr_/);
  expect(before.expiresAt).toBeGreaterThan(Date.now() / 1000 + 8 * 3600 - 60);
  editSession(store, sid, (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });
  const me = await browser.request(`${appsExpiring.url}/api/me`, { headers: json });
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).sub).toBe('583231');
  const after = readSession(store, sessionIdOf(browser))!.oauth.user.tokens;
  expect(after.accessToken).not.toBe(before.accessToken);
  expect(after.refreshToken).not.toBe(before.refreshToken);
  // The old refresh token is spent: GitHub answers bad_refresh_token (status 200), which ends such a session.
  const reused = await fetch(`${ghApp.url}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: new URLSearchParams({ client_id: GITHUB_CLIENT_ID, client_secret: GITHUB_CLIENT_SECRET, grant_type: 'refresh_token', refresh_token: before.refreshToken }),
  });
  expect(await reused.json()).toMatchObject({ error: 'bad_refresh_token' });
});

test('without Accept: application/json the stand-in answers form-encoded, as GitHub does', async () => {
  const res = await fetch(`${gh.url}/login/oauth/access_token`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: GITHUB_CLIENT_ID, client_secret: GITHUB_CLIENT_SECRET, code: 'nope' }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/x-www-form-urlencoded/);
  expect(new URLSearchParams(await res.text()).get('error')).toBe('bad_verification_code');
});
