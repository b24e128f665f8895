/**
 * Redis faults: when Redis stops, protected and login routes answer 503 session_store_unavailable quickly (fail
 * closed, never 500, no hang); when it comes back (with persistence) the same session cookie works again, without
 * restarting the app. Also for apps that mount express-session themselves, through oauthErrorHandler().
 */
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { oauthErrorHandler, oauthLogin, redisClientOptions, requireAuth } from '../lib/index.js';
import { testConfig } from './helpers/app.js';
import { Browser, login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { SECRET, sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { hasSession } from './helpers/sealed.js';

let redis: RedisServer;
let idp: TestIdp;
let app: TestServer;
let own: TestServer;
let ownClient: Redis;

beforeAll(async () => {
  redis = await startRedis({ persistence: true });
  app = await startServer();
  own = await startServer();
  idp = await startTestIdp({ appBases: [app.url, own.url] });
  app = await startInstance({ issuer: idp.issuer, redis: redis.url, server: app });

  // An app that mounts express-session + connect-redis itself and installs oauthErrorHandler().
  ownClient = new Redis(redis.url, redisClientOptions(1000));
  ownClient.on('error', () => undefined);
  const ownApp = express();
  ownApp.use(
    session({
      name: 'own.sid',
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      store: new RedisStore({ client: ownClient, prefix: 'own:', disableTouch: true }),
    }),
  );
  ownApp.use(oauthLogin(testConfig(own, idp.issuer, { redis: ownClient })));
  ownApp.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user?.sub });
  });
  ownApp.use(oauthErrorHandler());
  own.handle(ownApp);
});
afterAll(async () => {
  await app.close();
  await own.close();
  ownClient.disconnect();
  await idp.close();
  await redis.close();
});

const json = { accept: 'application/json' };

async function untilOk(browser: Browser, url: string, deadlineMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await browser.request(url, { headers: json });
    if (res.status === 200 || Date.now() - started > deadlineMs) return res.status;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('Redis stopped mid-session: 503s quickly on protected and login routes; restarted: the same cookie works', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const ok = await browser.request(`${app.url}/api/me`, { headers: json });
  expect(ok.status).toBe(200);
  const cookie = browser.cookie('app.sid')!.value;

  await redis.stop();
  try {
    const started = Date.now();
    const api = await browser.request(`${app.url}/api/me`, { headers: json });
    const elapsed = Date.now() - started;
    expect(api.status).toBe(503);
    expect(JSON.parse(api.body)).toEqual({ error: 'session_store_unavailable', message: expect.stringMatching(/try again/) });
    expect(api.headers.get('retry-after')).toBe('5');
    expect(elapsed).toBeLessThan(4000); // storeTimeout is 1000 ms: bounded, no hang (slack for a busy machine)

    const page = await browser.request(`${app.url}/profile`);
    expect(page.status).toBe(503);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.body).toContain('session_store_unavailable');

    // Login routes fail closed too: no half-made login, no redirect to the IdP without a stored state.
    const fresh = new Browser();
    const start = await fresh.request(`${app.url}/login`);
    expect(start.status).toBe(503);
    expect(start.location).toBeUndefined();
    const callback = await browser.request(`${app.url}/callback?code=abc&state=def`);
    expect(callback.status).toBe(503);

    const burst = await Promise.all(Array.from({ length: 10 }, () => browser.request(`${app.url}/api/me`, { headers: json })));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(503));
  } finally {
    await redis.start();
  }

  // ioredis reconnects by itself; the session was persisted (appendonly), so the same cookie is still logged in.
  expect(await untilOk(browser, `${app.url}/api/me`)).toBe(200);
  // Nothing queued during the outage deleted it once Redis was back.
  const check = new Redis(redis.url);
  expect(await hasSession(check, sessionIdFromCookie(cookie))).toBe(1);
  check.disconnect();
  expect(browser.cookie('app.sid')!.value).toBe(cookie);
  expect(JSON.parse((await browser.request(`${app.url}/api/me`, { headers: json })).body).sub).toBe('alice');
  const again = new Browser();
  const { final } = await login(again, app.url, { user: 'bob', returnTo: '/api/me' });
  expect(JSON.parse(final.body).sub).toBe('bob');
}, 50_000);

test('an app mounting express-session itself gets 503 (not 500) from oauthErrorHandler(), and recovers', async () => {
  const browser = new Browser();
  await login(browser, own.url, { returnTo: '/api/me' });
  expect((await browser.request(`${own.url}/api/me`, { headers: json })).status).toBe(200);
  await redis.stop();
  try {
    const started = Date.now();
    const res = await browser.request(`${own.url}/api/me`, { headers: json });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error).toBe('session_store_unavailable');
    expect(Date.now() - started).toBeLessThan(4000);
    const page = await browser.request(`${own.url}/login`);
    expect(page.status).toBe(503);
  } finally {
    await redis.start();
  }
  expect(await untilOk(browser, `${own.url}/api/me`)).toBe(200);
}, 50_000);

test('oauthErrorHandler() leaves errors that are not ours to the next handler', async () => {
  const server = await startServer();
  try {
    const plain = express();
    plain.get('/boom', () => {
      throw new Error('app bug');
    });
    plain.use(oauthErrorHandler());
    plain.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handledBy: 'app', message: err.message });
    });
    server.handle(plain);
    const res = await fetch(`${server.url}/boom`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ handledBy: 'app', message: 'app bug' });
  } finally {
    await server.close();
  }
});
