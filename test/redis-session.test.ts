/**
 * Sessions in Redis through oauthSession(): two instances share logins, an authenticated request costs one Redis
 * command, the Redis TTL follows the login's lifetimes, and a session stays small.
 */
import { jest } from '@jest/globals';
import express from 'express';
import { Redis } from 'ioredis';
import { ConfigError, oauthSession } from '../lib/index.js';
import { Browser, login } from './helpers/flow.js';
import { SECRET, monitorRedis, sessionIdFromCookie, startTwoInstances } from './helpers/instances.js';
import type { RedisServer } from './helpers/redis.js';
import { postLogout, sameOrigin } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { hasSession, readStored, redisKeyOf, writeStored } from './helpers/sealed.js';

let redis: RedisServer;
let a: TestServer;
let b: TestServer;
let raw: Redis;
const IDLE = 900;
const ABSOLUTE = 3600;

let close: () => Promise<void>;
  // Both instances answer for the same public URL (a's), like two processes behind one load balancer.
beforeAll(async () => {
  ({ redis, a, b, raw, close } = await startTwoInstances({ idleTimeout: IDLE, absoluteTimeout: ABSOLUTE }));
});
afterAll(() => close());

/** Logs in starting at instance a, finishing the callback on instance b. */
async function loginAcrossInstances(browser: Browser): Promise<string> {
  const { callback } = await login(browser, a.url, { stopAtCallback: true });
  const location = new URL(callback.location!);
  expect(location.origin + location.pathname).toBe(`${a.url}/callback`);
  const done = await browser.request(`${b.url}${location.pathname}${location.search}`);
  expect(done.status).toBe(302);
  return sessionIdFromCookie(browser.cookie('app.sid')!.value);
}

test('login starts on instance A, the callback lands on instance B, and both serve the protected page', async () => {
  const browser = new Browser();
  const sid = await loginAcrossInstances(browser);
  for (const base of [a.url, b.url]) {
    const res = await browser.request(`${base}/profile`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).sub).toBe('alice');
  }
  expect(await hasSession(raw, sid)).toBe(1);
});

test('an authenticated request that changes nothing costs exactly one Redis command (GET)', async () => {
  const browser = new Browser();
  const sid = await loginAcrossInstances(browser);
  expect((await browser.request(`${a.url}/api/me`)).status).toBe(200); // warm-up
  const monitor = await monitorRedis(redis.url);
  try {
    const perRequest: string[][][] = [];
    for (const base of [a.url, b.url, a.url, b.url]) {
      const before = monitor.commands.length;
      expect((await browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100)); // MONITOR output arrives asynchronously
      perRequest.push(monitor.commands.slice(before));
    }
    for (const commands of perRequest) {
      expect(commands).toEqual([['get', redisKeyOf(sid)]]);
    }
  } finally {
    await monitor.stop();
  }
});

test('the Redis TTL follows the idle lifetime after login and the login timeout before it', async () => {
  const browser = new Browser();
  const started = await browser.request(`${a.url}/login`);
  expect(started.status).toBe(302);
  const pendingSid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
  const pendingTtl = await raw.ttl(redisKeyOf(pendingSid));
  expect(pendingTtl).toBeGreaterThan(600 - 5); // loginTimeout default 600
  expect(pendingTtl).toBeLessThanOrEqual(600);
  const sid = await loginAcrossInstances(browser);
  expect(sid).not.toBe(pendingSid); // regenerated at login
  const ttl = await raw.ttl(redisKeyOf(sid));
  expect(ttl).toBeGreaterThan(IDLE - 5);
  expect(ttl).toBeLessThanOrEqual(IDLE);
  // The cookie itself is a browser-session cookie: the lifetime is enforced on the server.
  expect(browser.cookie('app.sid')!.expires).toBeUndefined();
});

test('near the absolute lifetime the Redis TTL follows it, and past it the session is ended on the server', async () => {
  const browser = new Browser();
  const sid = await loginAcrossInstances(browser);
  const key = redisKeyOf(sid);
  const edit = async (change: (user: { loginAt: number; seenAt: number }) => void) => {
    const data = (await readStored(raw, sid))!;
    change(data.oauth.user);
    await writeStored(raw, sid, data);
  };
  const now = Math.floor(Date.now() / 1000);
  // Logged in long ago, last seen two minutes ago: this request stamps seenAt, and the new TTL is what is left of
  // the absolute lifetime (100 s), not a fresh idle period.
  await edit((u) => {
    u.loginAt = now - (ABSOLUTE - 100);
    u.seenAt = now - 120;
  });
  expect((await browser.request(`${b.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(200);
  const ttl = await raw.ttl(key);
  expect(ttl).toBeGreaterThan(90);
  expect(ttl).toBeLessThanOrEqual(100);
  // Past the absolute lifetime (even though Redis still has the key): 401, and the key is deleted.
  await edit((u) => {
    u.loginAt = now - ABSOLUTE - 1;
  });
  expect((await browser.request(`${a.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(401);
  expect(await hasSession(raw, sid)).toBe(0);
});

// Sealed: AES-GCM ciphertext in base64url is 4/3 of the plaintext, plus IV, tag and revision (was 2 KB in clear).
test('a typical login stores a session under 3 KB in Redis', async () => {
  const browser = new Browser();
  const sid = await loginAcrossInstances(browser);
  const stored = await raw.get(redisKeyOf(sid));
  const bytes = Buffer.byteLength(stored!);
  console.log(`session size in Redis after a typical login: ${bytes} bytes`);
  expect(bytes).toBeLessThan(3072);
  const data = (await readStored(raw, sid))!;
  expect(data.oauth.user.sub).toBe('alice');
  expect(data.oauth.pending).toBeUndefined();
});

test('logout deletes the session from Redis', async () => {
  const browser = new Browser();
  const sid = await loginAcrossInstances(browser);
  // Instance b answers for the public URL (a's): the browser's Origin is that one.
  const res = await postLogout(browser, b.url, sameOrigin(a.url));
  expect(res.status).toBe(200);
  expect(await hasSession(raw, sid)).toBe(0);
  expect((await browser.request(`${a.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(401);
});

describe('oauthSession options', () => {
  test('invalid options fail at start-up with a message naming the field', () => {
    const problems = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join('\n');
      }
      throw new Error('expected a ConfigError');
    };
    expect(problems(() => oauthSession({ secret: 'short' }))).toMatch(/secret must be at least 32 characters/);
    expect(problems(() => oauthSession({ secret: SECRET, redis: 'http://127.0.0.1:6379' }))).toMatch(/redis must be a redis:\/\//);
    expect(problems(() => oauthSession({ secret: SECRET, redis: {} as never }))).toMatch(/redis must be/);
    expect(problems(() => oauthSession({ secret: SECRET, cookie: { sameSite: 'always' as never } }))).toMatch(/cookie.sameSite must be/);
    expect(problems(() => oauthSession({ secret: SECRET, cookie: { sameSite: 'none' } }))).toMatch(/cookie.sameSite "none" needs a Secure cookie/);
    expect(typeof oauthSession({ secret: SECRET, baseURL: 'https://app.example.com', cookie: { sameSite: 'none' } })).toBe('function');
    expect(problems(() => oauthSession({ secret: SECRET, ttl: 5 }))).toMatch(/ttl is in seconds/);
    expect(problems(() => oauthSession({ secret: SECRET, colour: 'red' } as never))).toMatch(/unknown option\(s\): colour/);
  });

  test('cookie defaults: a distinct name, HttpOnly, SameSite=Lax, Secure when baseURL is https', async () => {
    const server = await startServer();
    try {
      const app = express();
      app.set('trust proxy', 1);
      app.use(oauthSession({ secret: SECRET, baseURL: 'https://app.example.com' }));
      app.get('/set', (req, res) => {
        req.session.oauth = {};
        res.send('ok');
      });
      server.handle(app);
      const res = await fetch(`${server.url}/set`, { headers: { 'x-forwarded-proto': 'https' } });
      const cookie = res.headers.get('set-cookie')!;
      expect(cookie).toMatch(/^oauth\.sid=s%3A/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).not.toMatch(/Expires=/);
      // On plain http with an https baseURL no cookie is sent at all: it would travel in clear text.
      const plain = await fetch(`${server.url}/set`);
      expect(plain.headers.get('set-cookie')).toBeNull();
    } finally {
      await server.close();
    }
  });

  test('without redis it falls back to MemoryStore and warns when NODE_ENV=production', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const previous = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      expect(typeof oauthSession({ secret: SECRET, baseURL: 'https://app.example.com' })).toBe('function');
      process.env.NODE_ENV = 'development';
      oauthSession({ secret: SECRET });
      const codes = warn.mock.calls.map((call) => (call[1] as { code?: string } | undefined)?.code);
      expect(codes.filter((c) => c === 'EXPRESS_OAUTH_LOGIN_MEMORYSTORE')).toHaveLength(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/MemoryStore/);
    } finally {
      process.env.NODE_ENV = previous;
      warn.mockRestore();
    }
  });
});
