/**
 * Unknown-kid JWKS refetch with a cooldown (issue 11 point 6): logout tokens anyone can post with made-up `kid`s
 * make the app refetch the IdP's keys at most once per 30 s, shared with ID tokens; a genuine key rotation still
 * lets the next login through at once, because an ID token comes from the token endpoint only.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const config = { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, backchannelLogout: true, httpTimeout: 1000 };

let idp: HostileIdp;
let app: TestServer;
beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  buildApp({ server: app, issuer: idp.issuer, config });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});
afterEach(() => idp.reset());

const now = () => Math.floor(Date.now() / 1000);
const logoutClaims = () => ({
  iss: idp.issuer,
  aud: HOSTILE_CLIENT_ID,
  iat: now(),
  exp: now() + 120,
  jti: randomBytes(8).toString('hex'),
  events: { [EVENT]: {} },
  sub: 'mallory-or-not',
});

/** Logout tokens signed by an attacker's key, each with a `kid` the IdP never published. */
async function forgedLogoutTokens(n: number): Promise<string[]> {
  const { privateKey } = await generateKeyPair('RS256');
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      new SignJWT(logoutClaims()).setProtectedHeader({ alg: 'RS256', kid: `made-up-${i}`, typ: 'logout+jwt' }).sign(privateKey),
    ),
  );
}

const post = (base: string, token: string) =>
  fetch(`${base}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });

const loginWorks = async (base = app.url) => {
  const browser = new Browser();
  await browser.navigate(`${base}/login`);
  return (await browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } })).status === 200;
};

const jwksFetches = () => idp.hits['/jwks'] ?? 0;

test('200 back-channel posts with unknown kids: each refused with 400, at most one JWKS fetch', async () => {
  expect(await loginWorks()).toBe(true);
  const before = jwksFetches();
  const tokens = await forgedLogoutTokens(200);
  // Half at once, half one after the other: neither a burst nor a steady trickle gets past the cooldown.
  const burst = await Promise.all(tokens.slice(0, 100).map((t) => post(app.url, t)));
  const trickle = [];
  for (const t of tokens.slice(100)) trickle.push(await post(app.url, t));
  expect([...burst, ...trickle].map((r) => r.status)).toEqual(Array(200).fill(400));
  expect(jwksFetches() - before).toBeLessThanOrEqual(1);
  // Logins keep working meanwhile, without a fetch (their kid is known).
  expect(await loginWorks()).toBe(true);
  expect(jwksFetches() - before).toBeLessThanOrEqual(1);
});

test('a key rotation during the cooldown: the next login gets through (one fetch), and the new key then verifies logout tokens', async () => {
  // The cooldown is running: an unknown kid was just fetched for.
  await post(app.url, (await forgedLogoutTokens(1))[0]!);
  await idp.rotateKey();
  const before = jwksFetches();
  expect(await loginWorks()).toBe(true);
  expect(jwksFetches() - before).toBe(1);
  // A logout token signed with the new key is now verified from the cache: accepted, no fetch.
  const res = await post(app.url, await idp.sign(logoutClaims(), { typ: 'logout+jwt' }));
  expect(res.status).toBe(200);
  expect(jwksFetches() - before).toBe(1);
});

test('with the JWKS endpoint down, 50 posts with unknown kids make at most one attempt to reach it', async () => {
  const fresh = await startServer();
  buildApp({ server: fresh, issuer: idp.issuer, config });
  try {
    expect(await loginWorks(fresh.url)).toBe(true);
    idp.set({ jwksDown: true });
    const before = jwksFetches();
    const responses = [];
    for (const t of await forgedLogoutTokens(50)) responses.push(await post(fresh.url, t));
    // The one attempt that reached the dead endpoint is a 502; the rest are refused without asking.
    expect(responses.filter((r) => r.status !== 400 && r.status !== 502)).toEqual([]);
    expect(jwksFetches() - before).toBeLessThanOrEqual(1);
  } finally {
    await fresh.close();
  }
});
