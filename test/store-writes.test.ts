/**
 * Store traffic of a login: what the benchmark counts in Redis, checked here on a real (counting) MemoryStore.
 * A regenerated session must be written once, not once by the callback and again when the response ends.
 */
import { jest } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { oauthLogin, oauthSession, requireAuth } from '../lib/index.js';
import { buildApp, testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

/** express-session's MemoryStore, counting the calls express-session and the middleware make. */
class CountingStore extends session.MemoryStore {
  calls: Record<string, number> = {};
  private count(name: string): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }
  override get(sid: string, cb: (err: unknown, s?: session.SessionData | null) => void): void {
    this.count('get');
    super.get(sid, cb);
  }
  override set(sid: string, s: session.SessionData, cb?: (err?: unknown) => void): void {
    this.count('set');
    super.set(sid, s, cb);
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.count('destroy');
    super.destroy(sid, cb);
  }
  take(): Record<string, number> {
    const calls = this.calls;
    this.calls = {};
    delete calls.touch;
    return calls;
  }
}

let app: TestServer;
let memApp: TestServer;
let idp: TestIdp;
const store = new CountingStore();

beforeAll(async () => {
  app = await startServer();
  memApp = await startServer();
  idp = await startTestIdp({ appBases: [app.url, memApp.url] });
  buildApp({ server: app, issuer: idp.issuer, store });
});
afterAll(async () => {
  await app.close();
  await memApp.close();
  await idp.close();
});

test('a login writes the store once at /login and once at the callback (plus the destroy of the old id)', async () => {
  await new Browser().request(`${app.url}/login`); // discovery warm-up, not counted
  store.take();
  const started = await new Browser().request(`${app.url}/login`);
  expect(started.status).toBe(302);
  expect(store.take()).toEqual({ set: 1 }); // a new browser: nothing to read

  const browser = new Browser();
  const { callback } = await login(browser, app.url, { stopAtCallback: true });
  store.take();
  const answer = await browser.request(callback.location!);
  expect(answer.status).toBe(302);
  expect(store.take()).toEqual({ get: 1, destroy: 1, set: 1 });
  const stored = JSON.parse((store as unknown as { sessions: Record<string, string> }).sessions[
    decodeURIComponent(browser.cookie('app.sid')!.value).slice(2).split('.')[0]!
  ]!);
  expect(stored.oauth.user.sub).toBe('alice');
  expect(stored.oauth.pending).toBeUndefined();
});

test('authenticated requests that change nothing do not write the session', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  store.take();
  for (let i = 0; i < 3; i++) {
    const me = await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
    expect(me.status).toBe(200);
  }
  expect(store.take()).toEqual({ get: 3 });
});

test('oauthSession() without Redis: an authenticated request reads the session and neither touches nor writes it', async () => {
  const server = memApp;
  const a = express();
  a.use(oauthSession({ secret: 'test-secret-long-enough-for-the-schema-0123456789', baseURL: server.url }));
  a.use(oauthLogin(testConfig(server, idp.issuer)));
  a.get('/api/me', requireAuth(), (req, res) => res.json({ sub: req.user?.sub }));
  server.handle(a);
  const proto = session.MemoryStore.prototype;
  const touch = jest.spyOn(proto, 'touch');
  const set = jest.spyOn(proto, 'set');
  try {
    const browser = new Browser();
    const hops = await browser.navigate(`${server.url}/login`);
    await signInAtIdp(browser, hops);
    touch.mockClear();
    set.mockClear();
    for (let i = 0; i < 3; i++) {
      const me = await browser.request(`${server.url}/api/me`, { headers: { accept: 'application/json' } });
      expect(JSON.parse(me.body)).toEqual({ sub: 'alice' });
    }
    expect(touch).not.toHaveBeenCalled();
    expect(set).not.toHaveBeenCalled();
  } finally {
    touch.mockRestore();
    set.mockRestore();
  }
});
