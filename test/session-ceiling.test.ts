/**
 * The upstream session ceiling (issue 12): the app session never outlives the IdP's `session_expiry` (IPSIE), from
 * the login's ID token or a refreshed one, nor `maxSessionLifetime` after the sign-in at the IdP (`auth_time`).
 * Clocks move by editing the stored values, as refresh.test.ts does; with Redis the store's TTL follows too.
 */
import session from 'express-session';
import { Redis } from 'ioredis';
import { buildApp, startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type HostileIdp, HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import { sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { redisKeyOf } from './helpers/sealed.js';

const now = () => Math.floor(Date.now() / 1000);
const json = { accept: 'application/json' };

describe("session_expiry from the IdP's ID tokens", () => {
  let hostile: HostileIdp;
  let app: TestServer;
  const store = new session.MemoryStore();
  beforeAll(async () => {
    hostile = await startHostileIdp();
    app = await startServer();
    buildApp({ server: app, issuer: hostile.issuer, store, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET } });
  });
  afterAll(async () => {
    await app.close();
    await hostile.close();
  });
  afterEach(() => hostile.reset());

  const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: json });
  const withExpiry = (value: unknown) => hostile.set({ claims: (c) => ({ ...c, session_expiry: value }) });
  async function loggedIn(): Promise<{ browser: Browser; sid: string }> {
    const browser = new Browser();
    const hops = await browser.navigate(`${app.url}/login?returnTo=/api/me`, { headers: json });
    expect(hops.at(-1)!.status).toBe(200);
    return { browser, sid: sessionIdOf(browser) };
  }

  test('the session lives until session_expiry and not a second longer', async () => {
    const ends = now() + 3600;
    withExpiry(ends);
    const { browser, sid } = await loggedIn();
    expect(readSession(store, sid)!.oauth.user.tokens.sessionExpiry).toBe(ends);
    expect((await me(browser)).status).toBe(200);
    // The idle and absolute lifetimes are far away (1 day, 7 days): only the IdP's ceiling can end it.
    editSession(store, sid, (s) => {
      s.oauth.user.tokens.sessionExpiry = now() - 1;
    });
    expect((await me(browser)).status).toBe(401);
    expect(readSession(store, sid)).toBeUndefined();
  });

  test('a session_expiry already past at login refuses the login (no session born dead, no redirect loop)', async () => {
    withExpiry(now() - 5);
    const browser = new Browser();
    const hops = await browser.navigate(`${app.url}/login`, { headers: json });
    const last = hops.at(-1)!;
    expect(last.status).toBe(401);
    expect(JSON.parse(last.body)).toEqual({ error: 'id_token_invalid', message: expect.stringMatching(/session has already ended \(session_expiry\)/) });
    expect((await me(browser)).status).toBe(401);
  });

  test.each([['a string', 'tomorrow'], ['a negative number', -1], ['an object', { at: 1 }]])(
    'a session_expiry that is %s refuses the login: fail closed',
    async (_name, value) => {
      withExpiry(value);
      const hops = await new Browser().navigate(`${app.url}/login`, { headers: json });
      expect(hops.at(-1)!.status).toBe(401);
      expect(JSON.parse(hops.at(-1)!.body).message).toMatch(/session_expiry claim is not a valid time/);
    },
  );

  test("a refreshed ID token's session_expiry replaces the stored one; a refresh without an ID token keeps it", async () => {
    withExpiry(now() + 600);
    const { browser, sid } = await loggedIn();
    const expire = () =>
      editSession(store, sid, (s) => {
        s.oauth.user.tokens.expiresAt = now() - 10;
      });
    const later = now() + 7200;
    hostile.set({ refreshIdToken: true, claims: (c) => ({ ...c, session_expiry: later }) });
    expire();
    expect((await me(browser)).status).toBe(200);
    expect(readSession(store, sid)!.oauth.user.tokens.sessionExpiry).toBe(later);
    hostile.reset();
    expire();
    expect((await me(browser)).status).toBe(200);
    expect(readSession(store, sid)!.oauth.user.tokens.sessionExpiry).toBe(later);
  });

  test('a refreshed ID token whose session_expiry has passed ends the session on that very request', async () => {
    withExpiry(now() + 600);
    const { browser, sid } = await loggedIn();
    hostile.set({ refreshIdToken: true, claims: (c) => ({ ...c, session_expiry: now() - 1 }) });
    editSession(store, sid, (s) => {
      s.oauth.user.tokens.expiresAt = now() - 10;
    });
    expect((await me(browser)).status).toBe(401);
    expect(readSession(store, sid)).toBeUndefined();
  });

  test('an IdP that ignores max_age and sends a sign-in older than maxSessionLifetime: the login is refused', async () => {
    const strict = await startServer();
    try {
      buildApp({ server: strict, issuer: hostile.issuer, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, maxSessionLifetime: 3600 } });
      hostile.set({ claims: (c) => ({ ...c, auth_time: now() - 7200 }) });
      const hops = await new Browser().navigate(`${strict.url}/login`, { headers: json });
      expect(new URL(hops[0]!.location!).searchParams.get('max_age')).toBe('3600');
      expect(hops.at(-1)!.status).toBe(401);
      expect(JSON.parse(hops.at(-1)!.body).message).toMatch(/older than this app allows \(maxSessionLifetime\)/);
    } finally {
      await strict.close();
    }
  });

  test('without session_expiry nothing changes: no ceiling is stored', async () => {
    const { sid } = await loggedIn();
    expect(readSession(store, sid)!.oauth.user.tokens.sessionExpiry).toBeUndefined();
  });
});

describe('maxSessionLifetime (the real OP)', () => {
  let app: TestServer;
  const store = new session.MemoryStore();
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, close } = await startAppWithIdp({}, { store, config: { maxSessionLifetime: 3600 } }));
  });
  afterAll(() => close());
  const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: json });

  test('every login asks the IdP for a sign-in at most maxSessionLifetime old (max_age)', async () => {
    const res = await new Browser().request(`${app.url}/login`);
    expect(new URL(res.location!).searchParams.get('max_age')).toBe('3600');
  });

  test('the session ends maxSessionLifetime after the sign-in at the IdP (auth_time), whatever the activity', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    const user = readSession(store, sid)!.oauth.user;
    expect(user.authTime).toBeGreaterThan(now() - 60);
    expect((await me(browser)).status).toBe(200);
    editSession(store, sid, (s) => {
      s.oauth.user.authTime = now() - 3601;
    });
    expect((await me(browser)).status).toBe(401);
    expect(readSession(store, sid)).toBeUndefined();
  });

  test('without auth_time it counts from the app login', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    editSession(store, sid, (s) => {
      delete s.oauth.user.authTime;
      s.oauth.user.loginAt = now() - 3590;
    });
    expect((await me(browser)).status).toBe(200);
    editSession(store, sid, (s) => {
      s.oauth.user.loginAt = now() - 3601;
    });
    expect((await me(browser)).status).toBe(401);
  });
});

describe('in Redis the session key expires with the ceiling', () => {
  let redis: RedisServer;
  let raw: Redis;
  let hostile: HostileIdp;
  let instance: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    hostile = await startHostileIdp();
    instance = await startInstance({ issuer: hostile.issuer, redis: redis.url, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET } });
  });
  afterAll(async () => {
    raw.disconnect();
    await instance.close();
    await hostile.close();
    await redis.close();
  });

  test('a session_expiry two minutes away gives the Redis key a TTL of at most two minutes', async () => {
    hostile.set({ claims: (c) => ({ ...c, session_expiry: now() + 120 }) });
    const browser = new Browser();
    const hops = await browser.navigate(`${instance.url}/login?returnTo=/api/me`, { headers: json });
    expect(hops.at(-1)!.status).toBe(200);
    const sid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
    const ttl = await raw.ttl(redisKeyOf(sid));
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });
});
