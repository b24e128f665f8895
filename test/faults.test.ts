/**
 * Robustness against a failing IdP: a slow or dead token endpoint answers 504/502 within httpTimeout and the next
 * login works; a JWKS endpoint that goes down after its keys were cached does not stop logins; an IdP that is down
 * when the app starts only makes /login answer 503 until it is back.
 */
import { jest } from '@jest/globals';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const HTTP_TIMEOUT = 1000;
const hostileConfig = { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: HTTP_TIMEOUT };

let app: TestServer;
let idp: HostileIdp;

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  buildApp({ server: app, issuer: idp.issuer, errorHandler: true, config: hostileConfig });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});
afterEach(() => idp.reset());

const me = (browser: Browser, base = app.url) => browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } });

/** /login → IdP → /callback (→ returnTo); returns the callback hop, the time it took and what /api/me says after. */
async function attempt(browser = new Browser()): Promise<{ callback: Hop; ms: number; me: Hop }> {
  const started = Date.now();
  const hops = await browser.navigate(`${app.url}/login`);
  const callback = hops.find((h) => h.url.startsWith(`${app.url}/callback`));
  if (!callback) throw new Error(`no callback hop: ${hops.map((h) => `${h.status} ${h.url}`).join(', ')}`);
  return { callback, ms: Date.now() - started, me: await me(browser) };
}

function expectLoggedIn(result: { callback: Hop; me: Hop }): void {
  expect(result.callback.status).toBe(302);
  expect(result.me.status).toBe(200);
  expect(JSON.parse(result.me.body).sub).toBe('mallory-or-not');
}

function expectFailed(result: { callback: Hop; me: Hop }, status: number, code: string): void {
  expect(result.callback.status).toBe(status);
  expect(JSON.parse(result.callback.body)).toMatchObject({ handledBy: 'app', code, status });
  expect(result.callback.body).not.toMatch(/code=|access_token|eyJ/);
  expect(result.me.status).toBe(401);
}

describe('token endpoint faults', () => {
  test('a slow token endpoint answers 504 idp_timeout within httpTimeout; the next logins work', async () => {
    idp.set({ tokenDelayMs: HTTP_TIMEOUT * 4 });
    const slow = await attempt();
    expectFailed(slow, 504, 'idp_timeout');
    expect(slow.ms).toBeGreaterThanOrEqual(HTTP_TIMEOUT - 50);
    expect(slow.ms).toBeLessThan(HTTP_TIMEOUT + 1500);
    idp.reset();
    const browser = new Browser();
    expectLoggedIn(await attempt(browser));
    expectLoggedIn(await attempt());
  });

  test('a token endpoint that drops the connection answers 502 idp_unavailable at once; the next logins work', async () => {
    idp.set({ tokenDown: true });
    const before = idp.tokenRequests.length;
    const down = await attempt();
    expectFailed(down, 502, 'idp_unavailable');
    expect(down.ms).toBeLessThan(HTTP_TIMEOUT);
    expect(idp.tokenRequests.length).toBeGreaterThan(before);
    idp.reset();
    expectLoggedIn(await attempt());
  });

  test('ten logins at once against a hanging token endpoint all answer 504 and leave no session', async () => {
    idp.set({ tokenDelayMs: HTTP_TIMEOUT * 3 });
    const results = await Promise.all(Array.from({ length: 10 }, () => attempt()));
    for (const r of results) expectFailed(r, 504, 'idp_timeout');
    idp.reset();
    expectLoggedIn(await attempt());
  });
});

describe('JWKS endpoint faults', () => {
  test('logins keep working when the JWKS endpoint goes down after the keys were cached, without refetching', async () => {
    expectLoggedIn(await attempt()); // caches discovery and the keys
    const fetched = idp.hits['/jwks'] ?? 0;
    expect(fetched).toBeGreaterThanOrEqual(1);
    idp.set({ jwksDown: true });
    for (let i = 0; i < 5; i++) expectLoggedIn(await attempt());
    expect(idp.hits['/jwks']).toBe(fetched);
  });

  test('a token signed with a new key while the JWKS endpoint is down answers 502 (not 500, not logged in); fine once it is back', async () => {
    expectLoggedIn(await attempt());
    await idp.rotateKey();
    idp.set({ jwksDown: true });
    expectFailed(await attempt(), 502, 'idp_unavailable');
    idp.reset();
    expectLoggedIn(await attempt());
  });

  test('when the cached keys go stale while the JWKS endpoint is down, logins go on with them; it is asked again after a pause', async () => {
    expectLoggedIn(await attempt()); // keys cached now
    const realNow = Date.now.bind(Date);
    let shift = 11 * 60 * 1000; // past the 10-minute JWKS cache age
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
    try {
      idp.set({ jwksDown: true });
      const before = idp.hits['/jwks'] ?? 0;
      expectLoggedIn(await attempt());
      expect(idp.hits['/jwks']).toBe(before + 1); // the refetch was tried, failed, the cached keys were used
      for (let i = 0; i < 3; i++) expectLoggedIn(await attempt());
      expect(idp.hits['/jwks']).toBe(before + 1); // and not retried at every login
      shift += 60 * 1000; // past the pause
      expectLoggedIn(await attempt());
      expect(idp.hits['/jwks']).toBe(before + 2);
      idp.reset();
      shift += 60 * 1000;
      expectLoggedIn(await attempt());
      expect(idp.hits['/jwks']).toBe(before + 3); // back: fetched, fresh again
      expectLoggedIn(await attempt());
      expect(idp.hits['/jwks']).toBe(before + 3);
    } finally {
      clock.mockRestore();
    }
  });
});

describe('IdP down when the app starts', () => {
  let downIdp: HostileIdp;
  let lateApp: TestServer;

  beforeAll(async () => {
    downIdp = await startHostileIdp();
    await downIdp.stop();
    lateApp = await startServer();
  });
  afterAll(async () => {
    await lateApp.close();
    await downIdp.close();
  });

  test('the app starts, /login answers 503 with Retry-After until the IdP is back, then logins work', async () => {
    // Building the app must not throw or wait for the IdP.
    const started = Date.now();
    buildApp({ server: lateApp, issuer: downIdp.issuer, config: hostileConfig });
    expect(Date.now() - started).toBeLessThan(500);
    const browser = new Browser();
    for (let i = 0; i < 3; i++) {
      const res = await browser.request(`${lateApp.url}/login`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(res.body)).toEqual({ error: 'idp_unavailable', message: expect.stringMatching(/try again/i) });
    }
    // Protected pages still answer (no crash, no 5xx): the user is simply not logged in.
    expect((await me(browser, lateApp.url)).status).toBe(401);
    expect(downIdp.hits['/.well-known/openid-configuration'] ?? 0).toBe(0);

    await downIdp.start();
    // Discovery is retried at most once a second while the IdP is down: poll for a little longer than that.
    let status = 0;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
      status = (await browser.request(`${lateApp.url}/login`)).status;
      if (status === 302) break;
      expect(status).toBe(503);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(302);
    const hops = await browser.navigate(`${lateApp.url}/login?returnTo=%2Fapi%2Fme`, { headers: { accept: 'application/json' } });
    expect(hops.at(-1)!.status).toBe(200);
    expect(JSON.parse(hops.at(-1)!.body).sub).toBe('mallory-or-not');
  });
});
