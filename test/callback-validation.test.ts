/**
 * Behaviour 2 and 7 against a misbehaving IdP: every ID token or token-endpoint defect is refused with a 4xx (or
 * 502/504 for transport trouble), through next(err), and leaves no logged-in session behind.
 */
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let idp: HostileIdp;

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  buildApp({
    server: app,
    issuer: idp.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: 1000 },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});
afterEach(() => idp.reset());

/** Runs /login → IdP → /callback and returns the callback's answer plus what /api/me says afterwards. */
async function attempt(browser = new Browser()): Promise<{ callback: Hop; me: Hop }> {
  const hops = await browser.navigate(`${app.url}/login`);
  const callback = hops.find((h) => h.url.startsWith(`${app.url}/callback`))!;
  const me = await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
  return { callback, me };
}

function expectRefused(result: { callback: Hop; me: Hop }, status: number, code: string, reason?: RegExp): void {
  expect(result.callback.status).toBe(status);
  const body = JSON.parse(result.callback.body);
  expect(body).toEqual({ handledBy: 'app', code, status, message: expect.any(String) });
  if (reason) expect(body.message).toMatch(reason);
  expect(result.callback.headers.get('cache-control')).toBe('no-store');
  expect(result.callback.headers.get('referrer-policy')).toBe('no-referrer');
  // Nothing half-made: the session is not logged in.
  expect(result.me.status).toBe(401);
}

test('an honest response logs in (control for the cases below)', async () => {
  const { callback, me } = await attempt();
  expect(callback.status).toBe(302);
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).sub).toBe('mallory-or-not');
});

test('an ID token signed with a key that is not in the JWKS is refused', async () => {
  idp.set({ signing: 'other-key' });
  expectRefused(await attempt(), 401, 'id_token_invalid', /signature/);
});

test('an unsigned ID token (alg none) is refused even when the IdP advertises it', async () => {
  idp.set({ signing: 'none' });
  expectRefused(await attempt(), 401, 'id_token_invalid', /alg/);
});

test('an ID token MACed with the client secret (HS256) is refused by default', async () => {
  idp.set({ signing: 'HS256' });
  expectRefused(await attempt(), 401, 'id_token_invalid', /HS256/);
});

type Claims = Record<string, unknown>;
const now = () => Math.floor(Date.now() / 1000);
test.each<[string, (c: Claims) => Claims, RegExp]>([
  ['wrong issuer', (c) => ({ ...c, iss: 'https://evil.example' }), /iss/],
  ['wrong audience', (c) => ({ ...c, aud: 'someone-else' }), /aud/],
  ['several audiences without azp', (c) => ({ ...c, aud: [HOSTILE_CLIENT_ID, 'other'] }), /aud/],
  ['several audiences with a foreign azp', (c) => ({ ...c, aud: [HOSTILE_CLIENT_ID, 'other'], azp: 'other' }), /azp/],
  ['wrong nonce', (c) => ({ ...c, nonce: 'not-the-nonce' }), /nonce/],
  ['missing nonce', (c) => ({ ...c, nonce: undefined }), /nonce/],
  ['expired', (c) => ({ ...c, exp: now() - 3600, iat: now() - 7200 }), /exp/],
  ['issued in the future', (c) => ({ ...c, iat: now() + 3600, exp: now() + 7200 }), /future/],
  ['no subject', (c) => ({ ...c, sub: undefined }), /sub/],
])('an ID token with %s is refused', async (_name, claims, reason) => {
  idp.set({ claims });
  expectRefused(await attempt(), 401, 'id_token_invalid', reason);
});

test('several audiences are accepted when azp names this client', async () => {
  idp.set({ claims: (c) => ({ ...c, aud: [HOSTILE_CLIENT_ID, 'other'], azp: HOSTILE_CLIENT_ID }) });
  const { callback, me } = await attempt();
  expect(callback.status).toBe(302);
  expect(me.status).toBe(200);
});

test('a token response without an ID token is refused', async () => {
  idp.set({ noIdToken: true });
  expectRefused(await attempt(), 401, 'id_token_invalid');
});

test('RFC 9207: a wrong iss parameter in the authorization response is refused before any code is redeemed', async () => {
  idp.set({ issParam: 'https://evil.example' });
  const before = idp.tokenRequests.length;
  expectRefused(await attempt(), 400, 'callback_invalid');
  expect(idp.tokenRequests.length).toBe(before);
});

test('RFC 9207: a missing iss parameter is refused when the IdP advertises it', async () => {
  idp.set({ issParam: null });
  expectRefused(await attempt(), 400, 'callback_invalid');
});

test('an IdP error=access_denied response answers 403 with the IdP error code', async () => {
  idp.set({ authError: { error: 'access_denied', error_description: 'User said <b>no</b>' } });
  expectRefused(await attempt(), 403, 'idp_error');
});

test('a token endpoint error (invalid_grant) answers 400 token_endpoint_error', async () => {
  idp.set({ tokenError: { status: 400, body: { error: 'invalid_grant', error_description: 'nope' } } });
  expectRefused(await attempt(), 400, 'token_endpoint_error');
});

test('a token endpoint that answers HTML 500 gives 502 idp_bad_response', async () => {
  idp.set({ tokenError: { status: 500, body: '<h1>oops</h1>', contentType: 'text/html' } });
  expectRefused(await attempt(), 502, 'idp_bad_response');
});

test('a token endpoint that hangs answers 504 within httpTimeout', async () => {
  idp.set({ tokenDelayMs: 5000 });
  const started = Date.now();
  const result = await attempt();
  expect(Date.now() - started).toBeLessThan(3000);
  expectRefused(result, 504, 'idp_timeout');
});

test('an unknown kid makes the app refetch the JWKS once (key rotation), then it is cached again', async () => {
  await attempt(); // warm the JWKS cache
  const before = idp.hits['/jwks'] ?? 0;
  await idp.rotateKey();
  const first = await attempt();
  expect(first.callback.status).toBe(302);
  expect(idp.hits['/jwks']).toBe(before + 1);
  await attempt();
  expect(idp.hits['/jwks']).toBe(before + 1);
});

test('discovery is fetched once and cached across logins', async () => {
  const before = idp.hits['/.well-known/openid-configuration'] ?? 0;
  await attempt();
  await attempt();
  expect(idp.hits['/.well-known/openid-configuration'] ?? 0).toBe(before);
});
