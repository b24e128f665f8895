/**
 * Interop with Glewlwyd (Debian's `glewlwyd`, an independently written OpenID Provider in C), started once for this
 * file on loopback by test/helpers/ops/glewlwyd.ts: real logins through its own login and grant pages in Chromium,
 * the claims in req.user, UserInfo, refresh with rotation, RP-initiated logout, and what must be refused.
 */
import session from 'express-session';
import type { Browser, Page } from 'playwright-core';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession } from './helpers/store.js';
import { type WatchedPage, getJson, launchChromium, newPage } from './helpers/ops/chromium.js';
import {
  GLEWLWYD_CLIENT_ID,
  GLEWLWYD_CLIENT_SECRET,
  GLEWLWYD_USER,
  type Glewlwyd,
  signInAtGlewlwyd,
  startGlewlwyd,
} from './helpers/ops/glewlwyd.js';

let op: Glewlwyd;
let browser: Browser;
const store = new session.MemoryStore();
/** One app per configuration under test, each a registered client redirect URI unless said otherwise. */
const apps: Record<'main' | 'userinfo' | 'hs' | 'hsAllowed' | 'badSecret' | 'unregistered', TestServer> = {} as never;

beforeAll(async () => {
  for (const name of ['main', 'userinfo', 'hs', 'hsAllowed', 'badSecret', 'unregistered'] as const) apps[name] = await startServer();
  const registered = Object.entries(apps).filter(([name]) => name !== 'unregistered').map(([, s]) => s);
  op = await startGlewlwyd({
    redirectUris: registered.map((s) => `${s.url}/callback`),
    // The IdP sends the browser back to the app's logout route, which checks the logout's state (README "Logout").
    postLogoutRedirectUris: registered.map((s) => `${s.url}/logout`),
  });
  const config = (overrides: Partial<OAuthLoginConfig> = {}): Partial<OAuthLoginConfig> => ({
    clientId: GLEWLWYD_CLIENT_ID,
    clientSecret: GLEWLWYD_CLIENT_SECRET,
    httpTimeout: 5000,
    ...overrides,
  });
  // Glewlwyd's end_session endpoint takes GET only (its plugin registers no POST route for it).
  buildApp({ server: apps.main, issuer: op.issuer, store, config: config({ endSessionMethod: 'GET' }) });
  buildApp({
    server: apps.userinfo,
    issuer: op.issuer,
    config: config({
      fetchUserinfo: true,
      // OIDC Core §5.5: the name is asked for in UserInfo only (Glewlwyd's name claim is "on demand").
      authorizationParams: { claims: JSON.stringify({ userinfo: { name: null } }) },
    }),
  });
  buildApp({ server: apps.hs, issuer: op.hsIssuer, errorHandler: true, config: config() });
  buildApp({ server: apps.hsAllowed, issuer: op.hsIssuer, errorHandler: true, config: config({ idTokenSigningAlgs: ['HS256'] }) });
  buildApp({ server: apps.badSecret, issuer: op.issuer, errorHandler: true, config: config({ clientSecret: 'not-the-secret-but-long-enough-0123456789' }) });
  buildApp({ server: apps.unregistered, issuer: op.issuer, errorHandler: true, config: config() });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await op?.close();
  await Promise.all(Object.values(apps).map((s) => s.close()));
});

/**
 * Starts at the app's /login, signs in at Glewlwyd's pages, and returns once the browser is at `endsAt` on the app
 * (default: the profile page the login asked to return to).
 */
async function logIn(app: TestServer, endsAt = '/profile', page?: WatchedPage) {
  const watched = page ?? (await newPage(browser));
  await watched.page.goto(`${app.url}/login?returnTo=/profile`);
  const signIn = await signInAtGlewlwyd(watched.page, op, (u) => u.startsWith(`${app.url}${endsAt}`));
  await watched.page.waitForLoadState();
  return { ...watched, ...signIn };
}

const sessionIdOf = async (page: Page) => {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'app.sid');
  if (!cookie) throw new Error('no app session cookie');
  return decodeURIComponent(cookie.value).slice(2).split('.')[0]!;
};

test(`a login through Glewlwyd's own login and grant pages puts its claims in req.user`, async () => {
  const { page, context, navigations, passwordAsked } = await logIn(apps.main);
  expect(passwordAsked).toBe(true);
  expect(page.url()).toBe(`${apps.main.url}/profile`);
  // The authorization response carried RFC 9207 `iss` (which Glewlwyd's discovery does not advertise): accepted.
  const callback = new URL(navigations.find((u) => u.startsWith(`${apps.main.url}/callback`))!);
  expect(callback.searchParams.get('iss')).toBe(op.issuer);
  const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
  expect(discovery.authorization_response_iss_parameter_supported).toBeUndefined();
  const { status, body } = await getJson(page, `${apps.main.url}/profile`);
  expect(status).toBe(200);
  // Glewlwyd's public subject identifiers are random strings per user, not the login name.
  expect(body.sub).toMatch(/^\w{16,}$/);
  expect(body.claims).toMatchObject({ sub: body.sub, iss: op.issuer, email: GLEWLWYD_USER.email });
  // The name is Glewlwyd's "on demand" claim: not in the ID token unless asked for.
  expect(body.claims.name).toBeUndefined();
  expect(body.accessToken).toEqual(expect.any(String));
  await context.close();
});

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

test('fetchUserinfo: a claim only Glewlwyd\'s UserInfo endpoint gives (the name, asked for with `claims`) reaches req.user', async () => {
  const { page, context } = await logIn(apps.userinfo);
  const { status, body } = await getJson(page, `${apps.userinfo.url}/profile`);
  expect(status).toBe(200);
  expect(body.claims).toMatchObject({ sub: body.sub, email: GLEWLWYD_USER.email, name: GLEWLWYD_USER.name });
  // Not from the ID token: Glewlwyd left the name out of it, as the claims request asked.
  expect(payloadOf(body.idToken).name).toBeUndefined();
  await context.close();
});

/** A refresh grant straight at Glewlwyd's token endpoint, as the test client. */
async function refreshGrant(refreshToken: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${GLEWLWYD_CLIENT_ID}:${GLEWLWYD_CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  const text = await res.text();
  return { status: res.status, body: text };
}

const storedTokens = async (page: Page) => readSession(store, await sessionIdOf(page))!.oauth.user.tokens;
/** Moves the stored access token's expiry into the past, as if an hour had gone by. */
const expire = async (page: Page) =>
  editSession(store, await sessionIdOf(page), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });

test('an expired access token is refreshed at Glewlwyd, which rotates the refresh token (the old one is dead)', async () => {
  const { page, context } = await logIn(apps.main);
  const first = await storedTokens(page);
  await expire(page);
  const me = await getJson(page, `${apps.main.url}/api/me`);
  expect(me.status).toBe(200);
  expect(me.body.accessToken).not.toBe(first.accessToken);
  expect(me.body.expiresAt).toBeGreaterThan(Date.now() / 1000);
  const second = await storedTokens(page);
  expect(second.accessToken).toBe(me.body.accessToken);
  expect(second.refreshToken).toEqual(expect.any(String));
  expect(second.refreshToken).not.toBe(first.refreshToken);
  // The rotated token works for the next refresh too.
  await expire(page);
  const again = await getJson(page, `${apps.main.url}/api/me`);
  expect(again.status).toBe(200);
  expect(again.body.accessToken).not.toBe(second.accessToken);
  const third = await storedTokens(page);
  expect(third.refreshToken).not.toBe(second.refreshToken);
  // One-time use is real: Glewlwyd refuses a spent refresh token (with a bare 400, no RFC 6749 §5.2 error body).
  expect(await refreshGrant(first.refreshToken)).toEqual({ status: 400, body: '' });
  // The replay broke the chain, so Glewlwyd disabled the current refresh token too: the next refresh is refused
  // and the app ends the session instead of keeping a user it can no longer refresh.
  await expire(page);
  const sid = await sessionIdOf(page);
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(401);
  expect(readSession(store, sid)?.oauth?.user).toBeUndefined();
  await context.close();
});

test('RP-initiated logout ends the Glewlwyd session and, with the state the app sent, comes back to the app', async () => {
  const watched = await logIn(apps.main);
  const { page, context } = watched;
  // Single sign-on while the Glewlwyd session lives: logging in again asks for no password.
  expect((await logIn(apps.main, '/profile', watched)).passwordAsked).toBe(false);
  const { refreshToken } = await storedTokens(page);

  // A plain GET of /logout asks first (logout CSRF); the button POSTs the session's logout token.
  await page.goto(`${apps.main.url}/logout`);
  expect(await page.textContent('h1')).toBe('Sign out?');
  const sent = page.waitForRequest((r) => r.url().startsWith(`${op.issuer}/end_session`));
  await page.getByRole('button', { name: 'Sign out' }).click();
  const state = new URL((await sent).url()).searchParams.get('state');
  expect(state).toMatch(/^[\w-]{43}$/);
  await page.waitForURL((u) => u.href.startsWith(`${op.base}/login.html`));
  // The local session ended before the browser left the app.
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(401);
  const endSession = new URL(page.url());
  expect(endSession.searchParams.get('prompt')).toBe('end_session');
  expect(endSession.searchParams.get('client_id')).toBe(GLEWLWYD_CLIENT_ID);
  // With `state` Glewlwyd schedules the redirect back to the registered post_logout_redirect_uri, state appended.
  expect(endSession.searchParams.get('post_redirect_to')).toBe(`${apps.main.url}/logout`);
  expect(endSession.searchParams.get('callback_url')).toBe(`${apps.main.url}/logout?state=${state}`);
  // After "Logout" the browser lands on /logout?state=..., which the app checks, then goes home.
  const back = page.waitForRequest((r) => r.url().startsWith(`${apps.main.url}/logout?state=`));
  await Promise.all([page.waitForURL(`${apps.main.url}/`), page.locator('button.btn-danger', { hasText: 'Logout' }).first().click()]);
  expect(new URL((await back).url()).searchParams.get('state')).toBe(state);
  expect(await page.textContent('body')).toBe('home');

  // The Glewlwyd session really ended: its tokens are revoked and the next login asks for the password again.
  expect(await refreshGrant(refreshToken)).toEqual({ status: 400, body: '' });
  const relogin = await logIn(apps.main, '/profile', watched);
  expect(relogin.passwordAsked).toBe(true);
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(200);
  await context.close();
});

/** Logs in at an app whose callback must fail, and returns the app's error (its error handler renders JSON). */
async function failedLogin(app: TestServer) {
  const watched = await newPage(browser);
  const callback = watched.page.waitForResponse((r) => r.url().startsWith(`${app.url}/callback`));
  const { page, context } = await logIn(app, '/callback', watched);
  const status = (await callback).status();
  const body = JSON.parse((await page.textContent('body')) ?? '');
  await context.close();
  return { status, body };
}

test('Glewlwyd\'s HS256 ID tokens are refused: not an accepted algorithm by default (id_token_invalid)', async () => {
  const discovery = await (await fetch(`${op.hsIssuer}/.well-known/openid-configuration`)).json();
  expect(discovery.id_token_signing_alg_values_supported).toContain('HS256');
  const { status, body } = await failedLogin(apps.hs);
  expect(status).toBe(401);
  expect(body).toMatchObject({ handledBy: 'app', code: 'id_token_invalid' });
  expect(body.message).toContain('alg "HS256"');
});

test('with HS256 allowed, Glewlwyd\'s HS256 ID token is still refused: it is not signed with the client secret', async () => {
  const { status, body } = await failedLogin(apps.hsAllowed);
  expect(status).toBe(401);
  expect(body).toMatchObject({ handledBy: 'app', code: 'id_token_invalid' });
  expect(body.message).toContain('signature does not verify');
});

test('a wrong client secret: Glewlwyd refuses the code redemption and the login fails (token_endpoint_error)', async () => {
  const { status, body } = await failedLogin(apps.badSecret);
  expect(status).toBe(400);
  expect(body).toMatchObject({ handledBy: 'app', code: 'token_endpoint_error' });
  // Glewlwyd says unauthorized_client (403) where RFC 6749 §5.2 has invalid_client (401); either way, no login.
  expect(body.message).toContain('(unauthorized_client)');
});

test('a redirect URI Glewlwyd does not know: it refuses the authorization request and never redirects to it', async () => {
  const { page, context } = await newPage(browser);
  const seen: { url: string; status: number }[] = [];
  page.on('response', (r) => seen.push({ url: r.url(), status: r.status() }));
  // RFC 6749 §4.1.2.1: an error page at the authorization server, not a redirect; Glewlwyd's has no body.
  await expect(page.goto(`${apps.unregistered.url}/login`)).rejects.toThrow(/ERR_HTTP_RESPONSE_CODE_FAILURE/);
  const authorize = seen.find((r) => r.url.startsWith(`${op.issuer}/auth?`));
  expect(authorize?.status).toBe(403);
  expect(new URL(authorize!.url).searchParams.get('redirect_uri')).toBe(`${apps.unregistered.url}/callback`);
  expect(seen.filter((r) => r.url.startsWith(apps.unregistered.url)).map((r) => new URL(r.url).pathname)).toEqual(['/login']);
  await context.close();
});
