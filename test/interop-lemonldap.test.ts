/**
 * Interop with LemonLDAP::NG (Debian's `lemonldap-ng`, an independently written OpenID Provider in Perl, behind
 * nginx and its FastCGI portal), started once for this file on loopback by test/helpers/ops/lemonldap.ts: real
 * logins through its own login and consent pages in Chromium, the claims in req.user, UserInfo, refresh (LemonLDAP::NG
 * 2.16 does not rotate refresh tokens), RP-initiated logout (and its quirk after a consent page), and what must be
 * refused.
 */
import session from 'express-session';
import type { Browser, Page } from 'playwright-core';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession } from './helpers/store.js';
import { type WatchedPage, getJson, launchChromium, newPage } from './helpers/ops/chromium.js';
import {
  LEMONLDAP_CLIENT_ID,
  LEMONLDAP_CLIENT_SECRET,
  LEMONLDAP_NEW_USER,
  LEMONLDAP_USER,
  type Lemonldap,
  signInAtLemonldap,
  startLemonldap,
} from './helpers/ops/lemonldap.js';

let op: Lemonldap;
let browser: Browser;
const store = new session.MemoryStore();
const apps: Record<'main' | 'userinfo' | 'badSecret' | 'unregistered', TestServer> = {} as never;

beforeAll(async () => {
  for (const name of ['main', 'userinfo', 'badSecret', 'unregistered'] as const) apps[name] = await startServer();
  const registered = [apps.main, apps.userinfo, apps.badSecret];
  op = await startLemonldap({
    redirectUris: registered.map((s) => `${s.url}/callback`),
    // The IdP sends the browser back to the app's logout route, which checks the logout's state (README "Logout").
    postLogoutRedirectUris: registered.map((s) => `${s.url}/logout`),
  });
  const config = (overrides: Partial<OAuthLoginConfig> = {}): Partial<OAuthLoginConfig> => ({
    clientId: LEMONLDAP_CLIENT_ID,
    clientSecret: LEMONLDAP_CLIENT_SECRET,
    httpTimeout: 5000,
    ...overrides,
  });
  // The defaults: RP-initiated logout as a form POST. LemonLDAP::NG 2.16 advertises no revocation endpoint, so a
  // refresh token it refuses after logout died with its SSO session, not by our revocation.
  buildApp({ server: apps.main, issuer: op.issuer, store, config: config() });
  buildApp({ server: apps.userinfo, issuer: op.issuer, config: config({ fetchUserinfo: true }) });
  buildApp({ server: apps.badSecret, issuer: op.issuer, errorHandler: true, config: config({ clientSecret: 'not-the-secret-but-long-enough-0123456789' }) });
  buildApp({ server: apps.unregistered, issuer: op.issuer, errorHandler: true, config: config() });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await op?.close();
  await Promise.all(Object.values(apps).map((s) => s.close()));
});

/** Starts at the app's /login, signs in at the portal, and returns once the browser is at `endsAt` on the app. */
async function logIn(app: TestServer, endsAt = '/profile', page?: WatchedPage, user = LEMONLDAP_USER) {
  const watched = page ?? (await newPage(browser));
  await watched.page.goto(`${app.url}/login?returnTo=/profile`);
  const signIn = await signInAtLemonldap(watched.page, op, (u) => u.startsWith(`${app.url}${endsAt}`), user);
  await watched.page.waitForLoadState();
  return { ...watched, ...signIn };
}

const sessionIdOf = async (page: Page) => {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'app.sid');
  if (!cookie) throw new Error('no app session cookie');
  return decodeURIComponent(cookie.value).slice(2).split('.')[0]!;
};
const storedTokens = async (page: Page) => readSession(store, await sessionIdOf(page))!.oauth.user.tokens;
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

/** A refresh grant straight at the portal's token endpoint, as the test client. */
async function refreshGrant(refreshToken: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${op.issuer}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${LEMONLDAP_CLIENT_ID}:${LEMONLDAP_CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

test('a login through the LemonLDAP::NG portal\'s own login and consent pages puts its claims in req.user', async () => {
  const { page, context, passwordAsked, consentAsked } = await logIn(apps.main);
  expect({ passwordAsked, consentAsked }).toEqual({ passwordAsked: true, consentAsked: true });
  expect(page.url()).toBe(`${apps.main.url}/profile`);
  const { status, body } = await getJson(page, `${apps.main.url}/profile`);
  expect(status).toBe(200);
  expect(body.sub).toBe(LEMONLDAP_USER.uid);
  expect(body.claims).toMatchObject({ sub: LEMONLDAP_USER.uid, iss: op.issuer });
  // LemonLDAP::NG keeps profile claims out of ID tokens: without fetchUserinfo there is no name or e-mail.
  expect(body.claims.name).toBeUndefined();
  expect(body.claims.email).toBeUndefined();
  await context.close();
});

test('fetchUserinfo: the profile claims only LemonLDAP::NG\'s UserInfo endpoint gives reach req.user', async () => {
  const { page, context } = await logIn(apps.userinfo);
  const { status, body } = await getJson(page, `${apps.userinfo.url}/profile`);
  expect(status).toBe(200);
  expect(body.claims).toMatchObject({ sub: LEMONLDAP_USER.uid, name: LEMONLDAP_USER.cn, email: LEMONLDAP_USER.mail, preferred_username: LEMONLDAP_USER.uid });
  expect(payloadOf(body.idToken).name).toBeUndefined();
  await context.close();
});

test('an expired access token is refreshed at LemonLDAP::NG; its refresh token is not rotated and stays usable', async () => {
  const { page, context } = await logIn(apps.main);
  const sid = await sessionIdOf(page);
  const first = await storedTokens(page);
  const expire = () => editSession(store, sid, (s) => void (s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10));
  expire();
  const me = await getJson(page, `${apps.main.url}/api/me`);
  expect(me.status).toBe(200);
  expect(me.body.accessToken).not.toBe(first.accessToken);
  expect(me.body.expiresAt).toBeGreaterThan(Date.now() / 1000);
  const second = await storedTokens(page);
  expect(second.accessToken).toBe(me.body.accessToken);
  // No refresh_token in LemonLDAP::NG's refresh response: the middleware keeps the one it has...
  expect(second.refreshToken).toBe(first.refreshToken);
  // ...and LemonLDAP::NG's new ID token (same sub, the original nonce) replaced the old one.
  expect(second.idToken).not.toBe(first.idToken);
  expect(payloadOf(second.idToken).sub).toBe(LEMONLDAP_USER.uid);
  expire();
  const again = await getJson(page, `${apps.main.url}/api/me`);
  expect(again.status).toBe(200);
  expect(again.body.accessToken).not.toBe(second.accessToken);
  await context.close();
});

/** Logs the test user in once in a browser of its own, so LemonLDAP::NG has their consent on record (it keeps it per user). */
async function consentOnRecord(): Promise<void> {
  const { context } = await logIn(apps.main);
  await context.close();
}

test('RP-initiated logout, a POST form: LemonLDAP::NG asks to confirm, ends its session, sends the browser back to /logout with the state, then home', async () => {
  // A returning user: this browser never shows the consent page (right after it, see the next test).
  await consentOnRecord();
  const watched = await logIn(apps.main);
  const { page, context } = watched;
  expect({ passwordAsked: watched.passwordAsked, consentAsked: watched.consentAsked }).toEqual({ passwordAsked: true, consentAsked: false });
  // Single sign-on while the portal session lives: logging in again asks for no password.
  expect((await logIn(apps.main, '/profile', watched)).passwordAsked).toBe(false);
  const { refreshToken, idToken } = await storedTokens(page);

  // A plain GET of /logout asks first (logout CSRF); the button POSTs the session's logout token.
  await page.goto(`${apps.main.url}/logout`);
  expect(await page.textContent('h1')).toBe('Sign out?');
  const endSession = page.waitForRequest((r) => r.url().startsWith(`${op.issuer}/oauth2/logout`));
  await page.getByRole('button', { name: 'Sign out' }).click();
  const request = await endSession;
  // The default: the browser POSTs the end-session request, nothing of it in the URL (README "Logout").
  expect(request.method()).toBe('POST');
  expect(request.url()).toBe(`${op.issuer}/oauth2/logout`);
  const fields = Object.fromEntries(new URLSearchParams(request.postData() ?? ''));
  expect(fields).toEqual({
    client_id: LEMONLDAP_CLIENT_ID,
    post_logout_redirect_uri: `${apps.main.url}/logout`,
    state: expect.stringMatching(/^[\w-]{43}$/),
    id_token_hint: idToken,
  });
  const confirm = page.locator('form.confirm button.positive');
  await confirm.waitFor();
  // The local session ended before the browser left the app.
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(401);

  // Confirmed at the portal (its form carries the POSTed parameters on), the browser comes back to
  // /logout?state=..., which the app checks, then goes home.
  const back = page.waitForRequest((r) => r.url().startsWith(`${apps.main.url}/logout?`));
  await Promise.all([page.waitForURL(`${apps.main.url}/`), confirm.click()]);
  const returned = new URL((await back).url());
  expect([...returned.searchParams.keys()]).toEqual(['state']);
  expect(returned.searchParams.get('state')).toBe(fields.state);
  expect(await page.textContent('body')).toBe('home');
  // The state was this browser's and single use: the same return again is refused.
  expect(await getJson(page, returned.href)).toMatchObject({ status: 400, body: { error: 'logout_state_invalid' } });

  // The portal session really ended: its refresh token is refused and the next login asks for the password again.
  expect(await refreshGrant(refreshToken)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  expect((await logIn(apps.main, '/profile', watched)).passwordAsked).toBe(true);
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(200);
  await context.close();
});

test('LemonLDAP::NG 2.16, right after its consent page: RP-initiated logout ends its session but leaves the browser at its portal', async () => {
  const watched = await newPage(browser);
  const { page, context } = watched;
  // A user who has never consented (nobody else logs in as them), so this browser goes through the consent page.
  expect((await logIn(apps.main, '/profile', watched, LEMONLDAP_NEW_USER)).consentAsked).toBe(true);
  // The consent form carries `url` (base64 of the portal's /oauth2): the portal keeps it in its pdata cookie, which
  // lives until the browser session ends or the user authenticates again.
  const pdata = (await context.cookies(op.issuer)).find((c) => c.name === 'lemonldappdata');
  expect(JSON.parse(decodeURIComponent(pdata?.value ?? '""'))).toEqual({ _url: Buffer.from(`${op.issuer}/oauth2`).toString('base64') });
  const { refreshToken } = await storedTokens(page);

  await page.goto(`${apps.main.url}/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  const confirm = page.locator('form.confirm button.positive');
  await confirm.waitFor();
  // Its logout steps take that `_url` as the page to go to next (PE_REDIRECT), and the end-session endpoint returns
  // that before it looks at post_logout_redirect_uri: the browser is sent to /oauth2 ("Authentication required").
  await Promise.all([page.waitForURL(`${op.issuer}/oauth2`), confirm.click()]);
  expect(watched.navigations.filter((u) => u.startsWith(`${apps.main.url}/logout?`))).toEqual([]);
  // Both sessions did end: the app's before the browser left, the portal's as asked. The app's pending logout state
  // expires unused (loginTimeout).
  expect((await getJson(page, `${apps.main.url}/api/me`)).status).toBe(401);
  expect(await refreshGrant(refreshToken)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  await context.close();
});

test('a wrong client secret: LemonLDAP::NG refuses the code redemption and the login fails (token_endpoint_error)', async () => {
  const watched = await newPage(browser);
  const callback = watched.page.waitForResponse((r) => r.url().startsWith(`${apps.badSecret.url}/callback`));
  const { page, context } = await logIn(apps.badSecret, '/callback', watched);
  expect((await callback).status()).toBe(400);
  const body = JSON.parse((await page.textContent('body')) ?? '');
  expect(body).toMatchObject({ handledBy: 'app', code: 'token_endpoint_error' });
  // LemonLDAP::NG says invalid_request (400) where RFC 6749 §5.2 has invalid_client (401); either way, no login.
  expect(body.message).toContain('(invalid_request)');
  await context.close();
});

test('a redirect URI LemonLDAP::NG does not know: after sign-in the portal says "Unauthorized URL", no redirect', async () => {
  const { page, context, navigations } = await newPage(browser);
  await page.goto(`${apps.unregistered.url}/login`);
  expect(page.url().startsWith(`${op.issuer}/oauth2/authorize?`)).toBe(true);
  // The portal authenticates first, then checks the redirect URI (RFC 6749 §4.1.2.1: an error at the server).
  await page.fill('input[name=user]', LEMONLDAP_USER.uid);
  await page.fill('input[name=password]', LEMONLDAP_USER.password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(page.url().startsWith(`${op.issuer}/oauth2/authorize?`)).toBe(true);
  await page.getByText('Unauthorized URL').waitFor();
  expect(navigations.filter((u) => u.startsWith(apps.unregistered.url)).map((u) => new URL(u).pathname)).toEqual(['/login']);
  await context.close();
});
