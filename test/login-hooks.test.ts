/**
 * What shapes the stored user, against a hand-made IdP: UserInfo claims merged after login (its sub must match the
 * ID token's), the afterCallback hook (reshape or veto), and events for the app's logs that never carry a token.
 */
import { EventEmitter } from 'node:events';
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { postLogout } from './helpers/logout.js';
import type { AfterCallback, OAuthEventMap } from '../lib/index.js';

let app: TestServer;
let emitterApp: TestServer;
let idp: HostileIdp;
const emitter = new EventEmitter();
const store = new session.MemoryStore();
let afterCallback: AfterCallback | undefined;
const hookCalls: Array<{ accessToken: unknown; claims: Record<string, unknown>; hasReq: boolean }> = [];
const events: Array<OAuthEventMap[keyof OAuthEventMap]> = [];

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  emitterApp = await startServer();
  buildApp({
    server: emitterApp,
    issuer: idp.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, events: emitter },
  });
  buildApp({
    server: app,
    issuer: idp.issuer,
    store,
    config: {
      clientId: HOSTILE_CLIENT_ID,
      clientSecret: HOSTILE_CLIENT_SECRET,
      fetchUserinfo: true,
      afterCallback: async (req, tokens, claims) => {
        hookCalls.push({ accessToken: tokens.access_token, claims, hasReq: typeof req.get === 'function' });
        return afterCallback?.(req, tokens, claims);
      },
      events: {
        login: (e) => void events.push(e),
        logout: (e) => void events.push(e),
        refresh: (e) => void events.push(e),
        error: (e) => void events.push(e),
      },
    },
  });
});
afterAll(async () => {
  await app.close();
  await emitterApp.close();
  await idp.close();
});
afterEach(() => {
  idp.reset();
  afterCallback = undefined;
});

const json = { accept: 'application/json' };
async function attempt(browser = new Browser()): Promise<{ callback: Hop; me: Hop; browser: Browser }> {
  const hops = await browser.navigate(`${app.url}/login`);
  const callback = hops.find((h) => h.url.startsWith(`${app.url}/callback`))!;
  return { callback, me: await browser.request(`${app.url}/profile`, { headers: json }), browser };
}

test('fetchUserinfo merges UserInfo claims into the user; the ID token keeps sub, and the hook sees the merge', async () => {
  idp.set({ userinfo: { body: { sub: 'mallory-or-not', nickname: 'from-userinfo', email: 'fresh@hostile.test' } } });
  const { callback, me } = await attempt();
  expect(callback.status).toBe(302);
  const user = JSON.parse(me.body);
  expect(user.claims).toMatchObject({ sub: 'mallory-or-not', nickname: 'from-userinfo', email: 'fresh@hostile.test' });
  expect(hookCalls.at(-1)).toMatchObject({ accessToken: expect.any(String), hasReq: true, claims: { nickname: 'from-userinfo' } });
  expect(idp.hits['/userinfo']).toBeGreaterThanOrEqual(1);
});

test('a UserInfo response about another user is refused: 401 userinfo_invalid and no session', async () => {
  idp.set({ userinfo: { body: { sub: 'someone-else', email: 'victim@hostile.test' } } });
  const { callback, me } = await attempt();
  expect(callback.status).toBe(401);
  expect(callback.body).toContain('userinfo_invalid');
  expect(callback.body).toContain('different user');
  expect(me.status).toBe(401);
});

test('a UserInfo endpoint that fails answers 502 idp_bad_response and logs nobody in', async () => {
  idp.set({ userinfo: { status: 500, body: { error: 'server_error' } } });
  const { callback, me } = await attempt();
  expect(callback.status).toBe(502);
  expect(callback.body).toContain('idp_bad_response');
  expect(me.status).toBe(401);
});

test('afterCallback can replace the stored claims', async () => {
  afterCallback = (_req, _tokens, claims) => ({ claims: { sub: claims.sub, roles: ['reader'] } });
  const { me } = await attempt();
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).claims).toEqual({ sub: 'mallory-or-not', roles: ['reader'] });
});

test('afterCallback returning false vetoes the login: 403 login_rejected, nothing stored, the previous session kept', async () => {
  const browser = new Browser();
  const first = await attempt(browser);
  expect(first.me.status).toBe(200);
  const before = sessionIdOf(browser);
  afterCallback = () => false;
  const { callback, me } = await attempt(browser);
  expect(callback.status).toBe(403);
  expect(callback.body).toContain('login_rejected');
  expect(callback.headers.get('cache-control')).toBe('no-store');
  // The veto happened before the session was regenerated: still the first login, same session id.
  expect(me.status).toBe(200);
  expect(sessionIdOf(browser)).toBe(before);
  const anonymous = await attempt();
  expect(anonymous.me.status).toBe(401);
});

test('events report login, refresh, error and logout without any token, code or session id in them', async () => {
  events.length = 0;
  const { browser, callback } = await attempt();
  const sid = sessionIdOf(browser);
  const tokens = readSession(store, sid)!.oauth.user.tokens;
  const code = new URL(callback.url).searchParams.get('code')!;
  // Expire the access token so the next request refreshes it.
  editSession(store, sid, (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(200);
  const refreshed = readSession(store, sid)!.oauth.user.tokens;
  await browser.request(`${app.url}/callback?code=${code}&state=made-up`, { headers: json });
  await postLogout(browser, app.url);
  expect(events.map((e) => e.type)).toEqual(['login', 'refresh', 'error', 'logout']);
  expect(events[0]).toEqual({ type: 'login', schemaVersion: 1, sub: 'mallory-or-not', stepUp: false, silent: false });
  expect(events[1]).toEqual({ type: 'refresh', schemaVersion: 1, sub: 'mallory-or-not', outcome: 'refreshed' });
  expect(events[2]).toEqual({ type: 'error', schemaVersion: 1, code: 'state_unknown', status: 400, message: expect.any(String), path: '/callback' });
  expect(events[3]).toEqual({ type: 'logout', schemaVersion: 1, sub: 'mallory-or-not', idpLogout: false });
  const text = JSON.stringify(events);
  const secrets = [tokens.accessToken, tokens.refreshToken, tokens.idToken, refreshed.accessToken, code, sid, HOSTILE_CLIENT_SECRET];
  for (const secret of secrets) {
    expect(typeof secret).toBe('string');
    expect(text).not.toContain(secret);
  }
});

test('a listener that throws does not break the login', async () => {
  const { callback, me } = await (async () => {
    const thrower = events.push;
    events.push = () => {
      throw new Error('listener bug');
    };
    try {
      return await attempt();
    } finally {
      events.push = thrower;
    }
  })();
  expect(callback.status).toBe(302);
  expect(me.status).toBe(200);
});

test('an EventEmitter works as events; an error event nobody listens to does not throw', async () => {
  const seen: string[] = [];
  emitter.on('login', (e: { type: string; sub: string }) => seen.push(`${e.type}:${e.sub}`));
  const browser = new Browser();
  await browser.navigate(`${emitterApp.url}/login`);
  expect(seen).toEqual(['login:mallory-or-not']);
  expect(emitter.listenerCount('error')).toBe(0);
  const res = await browser.request(`${emitterApp.url}/callback?code=x&state=y`, { headers: json });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toMatchObject({ handledBy: 'app', code: 'state_unknown' });
});
