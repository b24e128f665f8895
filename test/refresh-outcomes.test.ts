/**
 * Refresh outcomes by kind (issue 11 point 4): only a definitive refusal (invalid_grant, a refreshed ID token about
 * another sub/iss/aud, a bad signature) ends the session. A transient failure (5xx, an HTML or non-JSON body, a
 * reset connection, a timeout, temporarily_unavailable) keeps the session and its refresh token: the request gets
 * its 502/503/504 with Retry-After and the next request tries again. In process, and through Redis across two
 * instances, where the waiters of the other instance answer as the one attempt did.
 */
import { buildApp } from './helpers/app.js';
import { Browser, login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, type Misbehaviour, startHostileIdp } from './helpers/hostile-idp.js';
import { monitorRedis, startInstance } from './helpers/instances.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';

const HTTP_TIMEOUT = 1000;
// expires_in is 300 at this IdP: with refreshSkew 300 every request refreshes, which is what these tests need.
const config = { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: HTTP_TIMEOUT, refreshSkew: 300 };

interface Kind {
  name: string;
  misbehaviour: () => Misbehaviour;
  status: number;
  code: string;
}

const TRANSIENT: Kind[] = [
  { name: '503 temporarily_unavailable', misbehaviour: () => ({ tokenError: { status: 503, body: { error: 'temporarily_unavailable' } } }), status: 503, code: 'idp_unavailable' },
  { name: '500 server_error', misbehaviour: () => ({ tokenError: { status: 500, body: { error: 'server_error' } } }), status: 503, code: 'idp_unavailable' },
  { name: '400 temporarily_unavailable', misbehaviour: () => ({ tokenError: { status: 400, body: { error: 'temporarily_unavailable' } } }), status: 503, code: 'idp_unavailable' },
  { name: '429 without a body', misbehaviour: () => ({ tokenError: { status: 429, body: '', contentType: 'text/plain' } }), status: 503, code: 'idp_unavailable' },
  { name: 'a 503 HTML page', misbehaviour: () => ({ tokenError: { status: 503, body: '<html>busy</html>', contentType: 'text/html' } }), status: 503, code: 'idp_unavailable' },
  {
    name: "a load balancer's 502 HTML page",
    misbehaviour: () => ({ tokenError: { status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>', contentType: 'text/html' } }),
    status: 503,
    code: 'idp_unavailable',
  },
  { name: 'a 200 that is not JSON', misbehaviour: () => ({ tokenError: { status: 200, body: '<html>maintenance</html>', contentType: 'text/html' } }), status: 502, code: 'idp_bad_response' },
  { name: 'a 200 with broken JSON', misbehaviour: () => ({ tokenError: { status: 200, body: '{"access_token": ', contentType: 'application/json' } }), status: 502, code: 'idp_bad_response' },
  { name: 'a reset connection', misbehaviour: () => ({ tokenDown: true }), status: 502, code: 'idp_unavailable' },
  { name: 'a timeout', misbehaviour: () => ({ tokenDelayMs: HTTP_TIMEOUT * 3 }), status: 504, code: 'idp_timeout' },
];

const DEFINITIVE: Array<{ name: string; misbehaviour: () => Misbehaviour }> = [
  { name: 'invalid_grant', misbehaviour: () => ({ tokenError: { status: 400, body: { error: 'invalid_grant' } } }) },
  // Glewlwyd 2.7's answer to a spent refresh token (test/interop-glewlwyd.test.ts): a refusal without its body.
  { name: 'a bare 400 without an error body', misbehaviour: () => ({ tokenError: { status: 400, body: '', contentType: 'text/plain' } }) },
  { name: 'a refreshed ID token about another sub', misbehaviour: () => ({ refreshIdToken: true, claims: (c) => ({ ...c, sub: 'someone-else' }) }) },
  { name: 'a refreshed ID token from another iss', misbehaviour: () => ({ refreshIdToken: true, claims: (c) => ({ ...c, iss: 'https://evil.example' }) }) },
  { name: 'a refreshed ID token for another aud', misbehaviour: () => ({ refreshIdToken: true, claims: (c) => ({ ...c, aud: 'another-client' }) }) },
  { name: 'a refreshed ID token with a bad signature', misbehaviour: () => ({ refreshIdToken: true, signing: 'other-key' }) },
];

let idp: HostileIdp;
beforeAll(async () => {
  idp = await startHostileIdp();
});
afterAll(() => idp.close());
afterEach(() => idp.reset());

const api = (browser: Browser, base: string) => browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } });
const refreshGrants = () => idp.tokenRequests.filter((r) => r.get('grant_type') === 'refresh_token');
/** The refresh token the latest login was given (the IdP's refresh grants keep it: no rotation here). */
const loginRefreshToken = () => refreshGrants().at(-1)?.get('refresh_token') ?? undefined;

/** After a transient failure: the next request refreshes with the same refresh token and the user is still in. */
async function expectStillSignedIn(browser: Browser, base: string, refreshToken: string | undefined): Promise<void> {
  const before = refreshGrants().length;
  const again = await api(browser, base);
  expect(again.status).toBe(200);
  expect(JSON.parse(again.body).sub).toBe('mallory-or-not');
  expect(refreshGrants().length).toBe(before + 1);
  expect(refreshGrants().at(-1)!.get('refresh_token')).toBe(refreshToken);
}

describe('in process', () => {
  let app: TestServer;
  beforeAll(async () => {
    app = await startServer();
    buildApp({ server: app, issuer: idp.issuer, config });
  });
  afterAll(() => app.close());

  test.each(TRANSIENT)('$name keeps the session and its refresh token: $status $code with Retry-After, then the next request refreshes', async (kind) => {
    const browser = new Browser();
    await login(browser, app.url);
    expect((await api(browser, app.url)).status).toBe(200);
    const refreshToken = loginRefreshToken();
    idp.set(kind.misbehaviour());
    const failed = await api(browser, app.url);
    idp.reset();
    expect(failed.status).toBe(kind.status);
    expect(JSON.parse(failed.body).error).toBe(kind.code);
    expect(failed.headers.get('retry-after')).toBe('5');
    expect(failed.body).not.toMatch(/eyJ|access_token|refresh_token/);
    await expectStillSignedIn(browser, app.url, refreshToken);
  });

  test.each(DEFINITIVE)('$name ends the session', async (kind) => {
    const browser = new Browser();
    await login(browser, app.url);
    idp.set(kind.misbehaviour());
    expect((await api(browser, app.url)).status).toBe(401);
    idp.reset();
    const before = refreshGrants().length;
    // Ended for good: the healthy IdP is not asked again, the browser must log in.
    expect((await api(browser, app.url)).status).toBe(401);
    expect(refreshGrants().length).toBe(before);
  });
});

describe('through Redis, on two instances', () => {
  let redis: RedisServer;
  let c: TestServer;
  let d: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    c = await startInstance({ issuer: idp.issuer, redis: redis.url, config });
    d = await startInstance({ issuer: idp.issuer, redis: redis.url, server: await startServer(), baseURL: c.url, config });
  });
  afterAll(async () => {
    await c.close();
    await d.close();
    await redis.close();
  });

  /**
   * Sends `n` requests over both instances while the one refresh grant is held at the IdP, and lets it answer (as
   * `misbehaviour` says) only once the other instance is seen waiting for that very attempt.
   */
  async function concurrently(browser: Browser, n: number, misbehaviour: Misbehaviour) {
    let release!: () => void;
    const tokenHold = new Promise<void>((resolve) => (release = resolve));
    const before = refreshGrants().length;
    const monitor = await monitorRedis(redis.url);
    idp.set({ ...misbehaviour, tokenHold });
    const pending = Promise.all(Array.from({ length: n }, (_, i) => api(browser, i % 2 ? d.url : c.url)));
    // A poll that names the owner it saw holding the lock (its last argument) is a waiter of that attempt.
    const waiting = () => refreshGrants().length > before && monitor.commands.some((cmd) => cmd[0] === 'eval' && cmd[2] === '3' && cmd[8]);
    while (!waiting()) await new Promise((r) => setTimeout(r, 10));
    // The other requests of the lock holder's instance share its attempt in process; a moment for the last of them
    // to arrive (one that came after the failure would rightly try again).
    await new Promise((r) => setTimeout(r, 200));
    release();
    const responses = await pending;
    idp.reset();
    await monitor.stop();
    return { responses, grants: refreshGrants().length - before };
  }

  // No request between the login and the test's: a successful refresh would answer the next minute's requests of
  // this (non-rotating) refresh token from Redis without a grant.
  test.each(TRANSIENT)('$name: one grant, every request on both instances gets $status $code, and the session survives', async (kind) => {
    const browser = new Browser();
    await login(browser, c.url);
    const { responses, grants } = await concurrently(browser, 10, kind.misbehaviour());
    const refreshToken = refreshGrants().at(-1)!.get('refresh_token') ?? undefined;
    expect(grants).toBe(1);
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(kind.status));
    expect(new Set(responses.map((r) => JSON.parse(r.body).error))).toEqual(new Set([kind.code]));
    expect(new Set(responses.map((r) => r.headers.get('retry-after')))).toEqual(new Set(['5']));
    // The next request tries again at once (the failure was for that attempt's waiters only), with the same
    // refresh token, and the other instance shares its outcome.
    await expectStillSignedIn(browser, d.url, refreshToken);
    expect((await api(browser, c.url)).status).toBe(200);
  }, 20_000);

  test.each(DEFINITIVE)('$name: one grant, the session ends on both instances', async (kind) => {
    const browser = new Browser();
    await login(browser, c.url);
    const { responses, grants } = await concurrently(browser, 10, kind.misbehaviour());
    expect(grants).toBe(1);
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(401));
    const before = refreshGrants().length;
    for (const base of [c.url, d.url]) expect((await api(browser, base)).status).toBe(401);
    expect(refreshGrants().length).toBe(before);
  }, 20_000);
});
