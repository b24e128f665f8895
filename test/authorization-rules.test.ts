/**
 * requireAuth rules against the real OP: claim rules and `check` answer 403 (never a redirect to log in again);
 * step-up (`acr`, `maxAge`) sends the browser back to the IdP with acr_values / max_age and verifies the result,
 * and a step-up that comes back too weak ends in 403 step_up_failed, not in another redirect.
 */
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import session from 'express-session';
import { requireAuth } from '../lib/index.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();
const checked: string[] = [];

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  buildApp({
    server: app,
    issuer: idp.issuer,
    store,
    config: { scope: 'openid profile email groups' },
    routes: (express) => {
      express.get('/admin', requireAuth({ claims: { email_verified: true, groups: 'admin' } }), (req, res) => {
        res.json({ sub: req.user?.sub });
      });
      express.get(
        '/staff-check',
        requireAuth({
          check: async (user, req) => {
            checked.push(`${user.sub} ${req.path}`);
            return user.claims.email === 'alice@example.com';
          },
        }),
        (req, res) => {
          res.json({ sub: req.user?.sub });
        },
      );
      express.get('/mfa', requireAuth({ acr: 'urn:mfa' }), (req, res) => {
        res.json({ sub: req.user?.sub, acr: req.user?.claims.acr });
      });
      express.get('/fresh', requireAuth({ maxAge: 300 }), (req, res) => {
        res.json({ sub: req.user?.sub, authTime: req.user?.claims.auth_time });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

const json = { accept: 'application/json' };
const authorizeRequests = (hops: Hop[]) => hops.filter((h) => h.url.startsWith(`${idp.issuer}/auth?`));
const sessionId = (browser: Browser) => decodeURIComponent(browser.cookie('app.sid')!.value).slice(2).split('.')[0]!;

test('a claim rule lets a user through whose array claim includes the value and whose boolean claim equals it', async () => {
  const alice = new Browser();
  await login(alice, app.url, { user: 'alice' });
  const res = await alice.request(`${app.url}/admin`, { headers: json });
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).sub).toBe('alice');
});

test('a failed claim rule answers 403 forbidden to a browser and to an API call, never a redirect to log in', async () => {
  const bob = new Browser();
  await login(bob, app.url, { user: 'bob' });
  const page = await bob.request(`${app.url}/admin`);
  expect(page.status).toBe(403);
  expect(page.location).toBeUndefined();
  expect(page.body).toContain('forbidden');
  expect(page.body).toContain('Access denied');
  const api = await bob.request(`${app.url}/admin`, { headers: json });
  expect(api.status).toBe(403);
  expect(JSON.parse(api.body)).toEqual({ error: 'forbidden', message: expect.stringMatching(/not allowed/) });
  // Still logged in: a forbidden route does not end the session.
  expect((await bob.request(`${app.url}/api/me`, { headers: json })).status).toBe(200);
});

test('an async check predicate receives the user and the request; false answers 403', async () => {
  const alice = new Browser();
  await login(alice, app.url, { user: 'alice' });
  const bob = new Browser();
  await login(bob, app.url, { user: 'bob' });
  expect((await alice.request(`${app.url}/staff-check`, { headers: json })).status).toBe(200);
  const denied = await bob.request(`${app.url}/staff-check`, { headers: json });
  expect(denied.status).toBe(403);
  expect(JSON.parse(denied.body).error).toBe('forbidden');
  expect(checked).toEqual(expect.arrayContaining(['alice /staff-check', 'bob /staff-check']));
});

test('invalid rule options are refused when requireAuth() is called, naming the option', () => {
  expect(() => requireAuth({ maxAge: -5 })).toThrow(/maxAge/);
  expect(() => requireAuth({ claims: { groups: ['admin'] as unknown as string } })).toThrow(/claims\.groups/);
  expect(() => requireAuth({ acr: ' ' })).toThrow(/acr/);
});

test('step-up: a basic login is sent back to the IdP with acr_values, and an MFA login there opens the page', async () => {
  const alice = new Browser();
  await login(alice, app.url, { user: 'alice' });
  const before = sessionId(alice);
  const start = await alice.navigate(`${app.url}/mfa`);
  const [authorize] = authorizeRequests(start);
  expect(new URL(authorize!.url).searchParams.get('acr_values')).toBe('urn:mfa');
  // The IdP asks for a new sign-in (its session is only urn:basic); alice adds her one-time code.
  expect(start.at(-1)!.url).toContain('/interaction/');
  const done = await signInAtIdp(alice, start, { user: 'alice', otp: '123456' });
  const final = done.at(-1)!;
  expect(final.url).toBe(`${app.url}/mfa`);
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body)).toEqual({ sub: 'alice', acr: 'urn:mfa' });
  expect(sessionId(alice)).not.toBe(before);
  // Now satisfied: no further trip to the IdP.
  const again = await alice.request(`${app.url}/mfa`, { headers: json });
  expect(again.status).toBe(200);
});

test('step-up that comes back without the required acr answers 403 step_up_failed: no loop, previous session kept', async () => {
  const bob = new Browser();
  await login(bob, app.url, { user: 'bob' });
  const start = await bob.navigate(`${app.url}/mfa`);
  const done = await signInAtIdp(bob, start, { user: 'bob' });
  const final = done.at(-1)!;
  expect(final.url).toMatch(/\/callback\?/);
  expect(final.status).toBe(403);
  expect(final.body).toContain('step_up_failed');
  expect(authorizeRequests(done)).toHaveLength(1);
  // The basic login is still there for the pages that do not need more.
  const me = await bob.request(`${app.url}/api/me`, { headers: json });
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).sub).toBe('bob');
});

test('step-up on an API call answers 401 step_up_required instead of redirecting', async () => {
  const bob = new Browser();
  await login(bob, app.url, { user: 'bob' });
  const res = await bob.request(`${app.url}/mfa`, { headers: json });
  expect(res.status).toBe(401);
  expect(JSON.parse(res.body).error).toBe('step_up_required');
});

test('maxAge: a login without auth_time goes to the IdP with max_age and comes back with a recent auth_time', async () => {
  const alice = new Browser();
  await login(alice, app.url, { user: 'alice' });
  const hops = await alice.navigate(`${app.url}/fresh`);
  const [authorize] = authorizeRequests(hops);
  expect(new URL(authorize!.url).searchParams.get('max_age')).toBe('300');
  const final = hops.at(-1)!;
  expect(final.url).toBe(`${app.url}/fresh`);
  expect(final.status).toBe(200);
  const { authTime } = JSON.parse(final.body);
  expect(Math.abs(authTime - Date.now() / 1000)).toBeLessThan(60);
});

test('maxAge: an authentication older than maxAge triggers a new step-up round trip', async () => {
  const alice = new Browser();
  await login(alice, app.url, { user: 'alice' });
  expect((await alice.navigate(`${app.url}/fresh`)).at(-1)!.status).toBe(200);
  // Age the stored auth_time in the real store, as if the user had authenticated an hour ago.
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  const sid = sessionId(alice);
  const stored = JSON.parse(sessions[sid]!);
  stored.oauth.user.authTime -= 3600;
  sessions[sid] = JSON.stringify(stored);
  const api = await alice.request(`${app.url}/fresh`, { headers: json });
  expect(api.status).toBe(401);
  expect(JSON.parse(api.body).error).toBe('step_up_required');
  const page = await alice.request(`${app.url}/fresh`);
  expect(page.status).toBe(302);
  expect(new URL(page.location!).searchParams.get('max_age')).toBe('300');
});
