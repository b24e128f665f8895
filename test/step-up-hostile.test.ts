/**
 * Step-up against an IdP that ignores what it was asked: a max_age step-up answered with an old auth_time, or an
 * acr step-up answered without the acr, ends in one error answer with the earlier login kept: never a loop.
 */
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { requireAuth } from '../lib/index.js';

let app: TestServer;
let idp: HostileIdp;

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  buildApp({
    server: app,
    issuer: idp.issuer,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET },
    routes: (express) => {
      express.get('/fresh', requireAuth({ maxAge: 60 }), (req, res) => {
        res.json({ sub: req.user?.sub });
      });
      express.get('/mfa', requireAuth({ acr: 'urn:mfa' }), (req, res) => {
        res.json({ sub: req.user?.sub });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});
afterEach(() => idp.reset());

const authorizeRequests = (hops: Hop[]) => hops.filter((h) => h.url.startsWith(`${idp.issuer}/authorize`));
const me = async (browser: Browser) => (await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } })).status;

test('a max_age step-up answered with an auth_time older than max_age: one 401 id_token_invalid, no loop, login kept', async () => {
  idp.set({ claims: (c) => ({ ...c, auth_time: Math.floor(Date.now() / 1000) - 3600, acr: 'urn:basic' }) });
  const browser = new Browser();
  await browser.navigate(`${app.url}/login`);
  expect(await me(browser)).toBe(200);
  const hops = await browser.navigate(`${app.url}/fresh`);
  expect(authorizeRequests(hops)).toHaveLength(1);
  expect(new URL(authorizeRequests(hops)[0]!.url).searchParams.get('max_age')).toBe('60');
  const last = hops.at(-1)!;
  expect(last.url).toContain('/callback?');
  expect(last.status).toBe(401);
  expect(last.body).toContain('id_token_invalid');
  expect(await me(browser)).toBe(200);
});

test('an acr step-up answered without any acr: one 403 step_up_failed, no loop, login kept', async () => {
  const browser = new Browser();
  await browser.navigate(`${app.url}/login`);
  expect(await me(browser)).toBe(200);
  const hops = await browser.navigate(`${app.url}/mfa`);
  expect(authorizeRequests(hops)).toHaveLength(1);
  expect(new URL(authorizeRequests(hops)[0]!.url).searchParams.get('acr_values')).toBe('urn:mfa');
  const last = hops.at(-1)!;
  expect(last.status).toBe(403);
  expect(last.body).toContain('step_up_failed');
  expect(await me(browser)).toBe(200);
});
