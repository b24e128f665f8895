/**
 * Multi-tenant issuers (issue 13 part 3) against an Entra ID stand-in on loopback: the discovered issuer is the
 * `{tenantid}` template, each ID token must carry its own tenant's issuer and a tenant in allowedTenants, and the
 * tenant is part of the user's identity, refresh included.
 */
import session from 'express-session';
import { type OAuthLoginConfig, oauthLogin } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { ENTRA_CLIENT_ID, ENTRA_CLIENT_SECRET, type EntraStandin, TENANT_A, TENANT_B, startEntraStandin } from './helpers/standins/entra.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';

let entra: EntraStandin;
const apps: TestServer[] = [];
const store = new session.MemoryStore();

const alice = { tid: TENANT_A, oid: 'oid-alice', name: 'Alice', preferred_username: 'alice@contoso.test' };
const bob = { tid: TENANT_B, oid: 'oid-bob', name: 'Bob', preferred_username: 'bob@fabrikam.test' };

async function app(config: Partial<OAuthLoginConfig>): Promise<TestServer> {
  const server = await startServer();
  apps.push(server);
  buildApp({
    server,
    issuer: `${entra.origin}/common/v2.0`,
    errorHandler: true,
    store,
    config: { clientId: ENTRA_CLIENT_ID, clientSecret: ENTRA_CLIENT_SECRET, scope: 'openid profile offline_access', ...config },
  });
  return server;
}

async function login(server: TestServer, browser = new Browser()): Promise<{ browser: Browser; callback: Hop; me: Hop }> {
  const hops = await browser.navigate(`${server.url}/login`);
  const callback = hops.find((h) => h.url.startsWith(`${server.url}/callback`))!;
  const me = await browser.request(`${server.url}/profile`, { headers: { accept: 'application/json' } });
  return { browser, callback, me };
}

beforeAll(async () => {
  entra = await startEntraStandin();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await entra.close();
});
afterEach(() => {
  entra.tamper(undefined);
  entra.issParam(undefined);
  entra.signInAs(alice);
});

describe('with allowedTenants', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await app({ allowedTenants: [TENANT_A] });
  });

  test('a user of an allowed tenant logs in; the tenant is part of req.user', async () => {
    const { callback, me } = await login(server);
    expect(callback.status).toBe(302);
    expect(me.status).toBe(200);
    const user = JSON.parse(me.body);
    expect(user.tenant).toBe(TENANT_A);
    expect(user.claims).toMatchObject({ tid: TENANT_A, iss: `${entra.origin}/${TENANT_A}/v2.0`, name: 'Alice' });
  });

  test('a user of another tenant is refused with 403 tenant_not_allowed and no session', async () => {
    entra.signInAs(bob);
    const { callback, me } = await login(server);
    expect(callback.status).toBe(403);
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'tenant_not_allowed', message: expect.stringMatching(/organization \(tenant\) is not allowed/) });
    expect(me.status).toBe(401);
  });

  test('an ID token whose iss names another tenant than its tid is refused', async () => {
    entra.tamper((claims) => ({ ...claims, iss: `${entra.origin}/${TENANT_B}/v2.0` }));
    const { callback, me } = await login(server);
    expect(callback.status).toBeGreaterThanOrEqual(400);
    expect(callback.status).toBeLessThan(500);
    expect(JSON.parse(callback.body).code).toBe('id_token_invalid');
    expect(me.status).toBe(401);
  });

  test('an ID token whose iss is the template itself is refused', async () => {
    entra.tamper((claims) => ({ ...claims, iss: `${entra.origin}/{tenantid}/v2.0`, tid: '{tenantid}' }));
    const { callback, me } = await login(server);
    expect(JSON.parse(callback.body).code).toBe('id_token_invalid');
    expect(me.status).toBe(401);
  });

  test('an ID token without tid is refused', async () => {
    entra.tamper(({ tid: _tid, ...claims }) => claims);
    const { callback, me } = await login(server);
    expect(callback.status).toBe(401);
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'id_token_invalid', message: expect.stringMatching(/tid/) });
    expect(me.status).toBe(401);
  });

  test('an RFC 9207 iss parameter is checked against the ID token\'s tenant, and required once advertised', async () => {
    // A fresh app per case: discovery (and whether iss is advertised) is cached per oauthLogin().
    entra.issParam(true);
    expect((await login(await app({ allowedTenants: [TENANT_A] }))).me.status).toBe(200);
    entra.issParam(`${entra.origin}/${TENANT_B}/v2.0`);
    const other = await login(await app({ allowedTenants: [TENANT_A] }));
    expect(other.callback.status).toBe(400);
    expect(JSON.parse(other.callback.body).code).toBe('callback_invalid');
    expect(other.me.status).toBe(401);
    entra.issParam('https://elsewhere.example/common/v2.0');
    const redeemed = entra.tokenRequests.length;
    const foreign = await login(await app({ allowedTenants: [TENANT_A] }));
    expect(JSON.parse(foreign.callback.body).code).toBe('callback_invalid');
    // Nothing was redeemed for a foreign issuer: the code never reached the token endpoint.
    expect(entra.tokenRequests.length).toBe(redeemed);
    entra.issParam(false);
    const missing = await login(await app({ allowedTenants: [TENANT_A] }));
    expect(JSON.parse(missing.callback.body).code).toBe('callback_invalid');
    expect(missing.me.status).toBe(401);
  });

  test('a refresh stays with the tenant: a refreshed ID token of the same tenant is accepted', async () => {
    const { browser } = await login(server);
    const expire = () => editSession(store, sessionIdOf(browser), (s) => (s.oauth.user.tokens.expiresAt = 1));
    expire();
    const refreshed = await browser.request(`${server.url}/profile`, { headers: { accept: 'application/json' } });
    expect(refreshed.status).toBe(200);
    expect(JSON.parse(refreshed.body).tenant).toBe(TENANT_A);
    expect(entra.tokenRequests.at(-1)?.get('grant_type')).toBe('refresh_token');
    expect(readSession(store, sessionIdOf(browser))!.oauth.user.tokens.expiresAt).toBeGreaterThan(1);
  });

  test('a refreshed ID token for another tenant is refused and ends the session', async () => {
    const { browser } = await login(server);
    entra.tamper((claims, grant) => (grant === 'refresh_token' ? { ...claims, iss: `${entra.origin}/${TENANT_B}/v2.0`, tid: TENANT_B } : claims));
    editSession(store, sessionIdOf(browser), (s) => (s.oauth.user.tokens.expiresAt = 1));
    const after = await browser.request(`${server.url}/profile`, { headers: { accept: 'application/json' } });
    expect(after.status).toBe(401);
  });
});

test("allowedTenants: 'any' lets every tenant sign in, each with its own tenant", async () => {
  const server = await app({ allowedTenants: 'any' });
  entra.signInAs(bob);
  const { me } = await login(server);
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).tenant).toBe(TENANT_B);
});

test('a templated issuer without allowedTenants is a configuration error at the first login, not a login', async () => {
  const server = await app({});
  const { callback, me } = await login(server);
  expect(callback).toBeUndefined();
  expect(me.status).toBe(401);
  const start = await new Browser().request(`${server.url}/login`, { headers: { accept: 'application/json' } });
  expect(start.status).toBe(500);
  expect(JSON.parse(start.body)).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/allowedTenants/) });
});

test("Entra's common and organizations authorities need allowedTenants at start-up", () => {
  for (const tenant of ['common', 'organizations']) {
    expect(() =>
      oauthLogin({ issuer: `https://login.microsoftonline.com/${tenant}/v2.0`, clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com' }),
    ).toThrow(/allowedTenants is required with a multi-tenant issuer/);
  }
  expect(() =>
    oauthLogin({ issuer: 'https://login.microsoftonline.com/common/v2.0', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com', allowedTenants: [] }),
  ).toThrow(/at least one tenant id/);
  expect(() =>
    oauthLogin({ issuer: 'https://login.microsoftonline.com/common/v2.0', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com', allowedTenants: 'any', responseMode: 'jwt' }),
  ).toThrow(/JARM\) is not supported together with allowedTenants/);
});

test('a tenant-specific issuer with allowedTenants logs in like any issuer', async () => {
  const server = await startServer();
  apps.push(server);
  buildApp({
    server,
    issuer: `${entra.origin}/${TENANT_A}/v2.0`,
    errorHandler: true,
    config: { clientId: ENTRA_CLIENT_ID, clientSecret: ENTRA_CLIENT_SECRET, allowedTenants: [TENANT_A] },
  });
  const { me } = await login(server);
  expect(me.status).toBe(200);
  expect(JSON.parse(me.body).claims.iss).toBe(`${entra.origin}/${TENANT_A}/v2.0`);
});
