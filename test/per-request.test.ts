/**
 * A provider per request (issue 13 part 4): `oauthLogin({ resolveProvider })` with two tenants on two real OPs
 * (oidc-provider), the same routes for both; the pending login and the session remember the provider, on one
 * instance and across two instances sharing Redis.
 */
import express, { type ErrorRequestHandler, type Request } from 'express';
import session from 'express-session';
import { type ProviderConfig, type ResolveProvider, oauthLogin, oauthSession, requireAuth } from '../lib/index.js';
import { SESSION_COOKIE } from './helpers/app.js';
import { Browser, formAction, hiddenInputs } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import { CLIENT_ID, CLIENT_SECRET, type TestIdp, startTestIdp } from './helpers/idp.js';
import { SECRET } from './helpers/instances.js';
import { endSessionForm, postLogout } from './helpers/logout.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, sessionIdOf } from './helpers/store.js';

let idpA: TestIdp;
let idpB: TestIdp;
let app: TestServer;
const store = new session.MemoryStore();
/** The app's "database" of tenants; tests change it to model a resolver that changes its mind. */
let tenants: Record<string, ProviderConfig> = {};
const calls: Array<{ tenant: unknown; known?: { provider: string } }> = [];

const provider = (name: string, idp: TestIdp): ProviderConfig => ({ name, issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

function resolverOf(log: typeof calls): ResolveProvider {
  return async (req: Request, known?: { provider: string }) => {
    log.push({ tenant: req.query.tenant, ...(known && { known }) });
    const key = known?.provider ?? req.query.tenant;
    if (key === 'boom') throw new Error('database down: secret connection string');
    return typeof key === 'string' ? tenants[key] : undefined;
  };
}

function buildPerRequestApp(server: TestServer, sessions: express.RequestHandler, resolveProvider: ResolveProvider, baseURL = server.url): void {
  const a = express();
  a.use(sessions);
  a.use(oauthLogin({ resolveProvider, baseURL, allowInsecureRequests: true, httpTimeout: 3000, errorPage: false }));
  a.get('/profile', requireAuth(), (req, res) => {
    res.json(req.user);
  });
  const handler: ErrorRequestHandler = (err, _req, res, _next) => {
    res.status(err.status ?? 500).json({ code: err.code, status: err.status, message: err.message });
  };
  a.use(handler);
  server.handle(a);
}

const profile = (browser: Browser, url: string) => browser.request(`${url}/profile`, { headers: { accept: 'application/json' } });

beforeAll(async () => {
  app = await startServer();
  idpA = await startTestIdp({ appBases: [app.url] });
  idpB = await startTestIdp({ appBases: [app.url] });
  buildPerRequestApp(
    app,
    session({ name: SESSION_COOKIE, secret: 'test-session-secret', resave: false, saveUninitialized: false, store }),
    resolverOf(calls),
  );
});
beforeEach(() => {
  tenants = { acme: provider('acme', idpA), globex: provider('globex', idpB) };
  calls.length = 0;
});
afterAll(async () => {
  await app.close();
  await idpA.close();
  await idpB.close();
});

test('two tenants on two IdPs log in through the same routes, each with its own provider', async () => {
  const first = new Browser();
  const second = new Browser();
  await login(first, app.url, { loginPath: '/login?tenant=acme' });
  await login(second, app.url, { loginPath: '/login?tenant=globex' });
  const a = JSON.parse((await profile(first, app.url)).body);
  const b = JSON.parse((await profile(second, app.url)).body);
  expect(a).toMatchObject({ provider: 'acme', claims: { iss: idpA.issuer } });
  expect(b).toMatchObject({ provider: 'globex', claims: { iss: idpB.issuer } });
  // Asked at /login only: the callback and the protected routes found the provider in the session.
  expect(calls).toEqual([{ tenant: 'acme' }, { tenant: 'globex' }]);
});

test('the callback completes with the remembered provider after the resolver changed its mind', async () => {
  const browser = new Browser();
  const { callback } = await login(browser, app.url, { loginPath: '/login?tenant=acme', stopAtCallback: true });
  tenants = { acme: provider('acme', idpB) };
  const hops = await browser.navigate(callback.location!);
  expect(hops[0]!.status).toBe(302);
  expect(JSON.parse((await profile(browser, app.url)).body)).toMatchObject({ provider: 'acme', claims: { iss: idpA.issuer } });
  expect(calls).toEqual([{ tenant: 'acme' }]);
});

test('a form_post provider and a query provider share the one callback route', async () => {
  tenants.posty = { ...provider('posty', idpB), responseMode: 'form_post' };
  const browser = new Browser();
  const hops = await signInAtIdp(browser, await browser.navigate(`${app.url}/login?tenant=posty`));
  const page = hops.at(-1)!;
  expect(formAction(page.body, page.url)).toBe(`${app.url}/callback`);
  // The same response as a GET is refused before anything is redeemed: this provider answers with a POST.
  const asGet = await browser.request(`${app.url}/callback?${hiddenInputs(page.body)}`, { headers: { accept: 'application/json' } });
  expect(asGet.status).toBe(400);
  expect(JSON.parse(asGet.body).code).toBe('callback_invalid');
  // The login is still pending: the POST completes it.
  const done = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: hiddenInputs(page.body) });
  expect(done[0]!.status).toBe(303);
  expect(JSON.parse((await profile(browser, app.url)).body)).toMatchObject({ provider: 'posty', claims: { iss: idpB.issuer } });
});

test('an unknown tenant is a 404 page; a resolver that throws is a 503 that does not show its error', async () => {
  const unknown = await new Browser().request(`${app.url}/login?tenant=nope`, { headers: { accept: 'application/json' } });
  expect(unknown.status).toBe(404);
  expect(JSON.parse(unknown.body)).toMatchObject({ code: 'provider_unknown' });
  const down = await new Browser().request(`${app.url}/login?tenant=boom`, { headers: { accept: 'application/json' } });
  expect(down.status).toBe(503);
  expect(JSON.parse(down.body)).toMatchObject({ code: 'provider_unavailable' });
  expect(down.body).not.toMatch(/secret connection string/);
});

test('a resolved configuration that is invalid is a configuration error naming the provider', async () => {
  tenants.bad = { name: 'bad', issuer: 'not a url', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
  const res = await new Browser().request(`${app.url}/login?tenant=bad`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/issuer/) });
  tenants.rerouted = { ...provider('rerouted', idpA), baseURL: 'https://elsewhere.example.com' };
  const shared = await new Browser().request(`${app.url}/login?tenant=rerouted`, { headers: { accept: 'application/json' } });
  expect(shared.status).toBe(500);
  expect(JSON.parse(shared.body).message).toMatch(/provider "rerouted": baseURL is shared by every provider/);
});

test('refresh goes to the IdP the user logged in with', async () => {
  const browser = new Browser();
  await login(browser, app.url, { loginPath: '/login?tenant=globex' });
  const before = { a: idpA.grants.refresh_token ?? 0, b: idpB.grants.refresh_token ?? 0 };
  editSession(store, sessionIdOf(browser), (s) => (s.oauth.user.tokens.expiresAt = 1));
  const res = await profile(browser, app.url);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).expiresAt).toBeGreaterThan(1);
  expect(idpB.grants.refresh_token ?? 0).toBe(before.b + 1);
  expect(idpA.grants.refresh_token ?? 0).toBe(before.a);
});

test("logout sends the browser to the user's own IdP", async () => {
  const browser = new Browser();
  await login(browser, app.url, { loginPath: '/login?tenant=globex' });
  const page = await postLogout(browser, app.url);
  expect(endSessionForm(page).action.startsWith(idpB.issuer)).toBe(true);
  expect((await profile(browser, app.url)).status).toBe(401);
});

describe('two instances sharing Redis', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  let idp: TestIdp;
  const callsA: typeof calls = [];
  const callsB: typeof calls = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    redis = await startRedis();
    a = await startServer();
    b = await startServer();
    // accessTokenTTL below refreshSkew: every request with a session refreshes.
    idp = await startTestIdp({ appBases: [a.url], accessTokenTTL: 10, rotateRefreshTokens: true });
    for (const [server, log] of [[a, callsA], [b, callsB]] as const) {
      const sessions = oauthSession({ secret: SECRET, redis: redis.url, storeTimeout: 1000, cookie: { name: SESSION_COOKIE } });
      closers.push(() => sessions.close());
      buildPerRequestApp(server, sessions, async (req, known) => {
        log.push({ tenant: req.query.tenant, ...(known && { known }) });
        const name = known?.provider ?? req.query.tenant;
        // "umbrella" was removed from B's view of the database.
        return name === 'initech' || (name === 'umbrella' && server === a) ? provider(name, idp) : undefined;
      }, a.url);
    }
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    for (const close of closers) await close();
    await idp.close();
    await redis.close();
  });

  test('a login started on A completes on B, and B refreshes at the right IdP by asking the resolver by name', async () => {
    const browser = new Browser();
    const { callback } = await login(browser, a.url, { loginPath: '/login?tenant=initech', stopAtCallback: true });
    const onB = callback.location!.replace(a.url, b.url);
    const hops = await browser.navigate(onB, { stopAt: (u) => u.startsWith(a.url) });
    expect(hops[0]!.status).toBe(302);
    expect(callsB).toEqual([{ tenant: undefined, known: { provider: 'initech' } }]);
    const refreshes = idp.grants.refresh_token ?? 0;
    const res = await profile(browser, b.url);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ provider: 'initech', claims: { iss: idp.issuer } });
    expect(idp.grants.refresh_token ?? 0).toBe(refreshes + 1);
    // Cached on B from now on: the resolver was asked once by name.
    expect(callsB).toHaveLength(1);
    expect(callsA).toEqual([{ tenant: 'initech' }]);
  });

  test("a provider the resolver no longer knows ends its users' sessions instead of serving them", async () => {
    const browser = new Browser();
    await login(browser, a.url, { loginPath: '/login?tenant=umbrella' });
    expect((await profile(browser, a.url)).status).toBe(200);
    expect((await profile(browser, b.url)).status).toBe(401);
    expect(callsB.at(-1)).toEqual({ tenant: undefined, known: { provider: 'umbrella' } });
    // The session was replaced: A does not know the user any more either.
    expect((await profile(browser, a.url)).status).toBe(401);
  });
});
