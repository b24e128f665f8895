/**
 * The OpenID Connect presets (issue 13 part 2): each one's configuration, and a login (with its quirk) against a
 * local stand-in that follows that provider's public documentation: paths, issuer shape, parameters, logout.
 */
import { decodeJwt } from 'jose';
import { type OAuthLoginConfig, oauthLogin, providers } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { postLogout } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { ENTRA_CLIENT_ID, ENTRA_CLIENT_SECRET, TENANT_A, startEntraStandin } from './helpers/standins/entra.js';
import { type OidcStandin, STANDIN_CLIENT_ID, STANDIN_CLIENT_SECRET, type StandinProfile, startOidcStandin } from './helpers/standins/oidc.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function standin(profile: StandinProfile): Promise<OidcStandin> {
  const s = await startOidcStandin(profile);
  closers.push(() => s.close());
  return s;
}

async function appWith(config: OAuthLoginConfig, client = { clientId: STANDIN_CLIENT_ID, clientSecret: STANDIN_CLIENT_SECRET }): Promise<TestServer> {
  const server = await startServer();
  closers.push(() => server.close());
  buildApp({ server, issuer: config.issuer!, errorHandler: true, config: { ...config, ...client } });
  return server;
}

async function loginAt(server: TestServer): Promise<{ browser: Browser; callback: Hop | undefined; user: Record<string, unknown> }> {
  const browser = new Browser();
  const hops = await browser.navigate(`${server.url}/login`);
  const me = await browser.request(`${server.url}/profile`, { headers: { accept: 'application/json' } });
  expect(me.status).toBe(200);
  return { browser, callback: hops.find((h) => h.url.startsWith(`${server.url}/callback`)), user: JSON.parse(me.body) };
}

test('every preset returns a configuration oauthLogin() accepts, and every field can be overridden', () => {
  const app = { clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com' };
  expect(providers.google()).toMatchObject({ issuer: 'https://accounts.google.com', idpLogout: false, authorizationParams: { access_type: 'offline', prompt: 'consent' } });
  expect(providers.google({ authorizationParams: { login_hint: 'a@example.com' } }).authorizationParams).toEqual({
    access_type: 'offline',
    prompt: 'consent',
    login_hint: 'a@example.com',
  });
  expect(providers.auth0({ domain: 'example.eu.auth0.com', audience: 'https://api.example.com' })).toMatchObject({
    issuer: 'https://example.eu.auth0.com/',
    authorizationParams: { audience: 'https://api.example.com' },
  });
  expect(providers.okta({ domain: 'example.okta.com' }).issuer).toBe('https://example.okta.com');
  expect(providers.okta({ domain: 'example.okta.com', authorizationServer: 'default' }).issuer).toBe('https://example.okta.com/oauth2/default');
  expect(providers.keycloak({ url: 'https://sso.example.com/', realm: 'staff' }).issuer).toBe('https://sso.example.com/realms/staff');
  expect(providers.cognito({ domain: 'example.auth.eu-west-1.amazoncognito.com', region: 'eu-west-1', userPoolId: 'eu-west-1_AbC' })).toMatchObject({
    issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC',
    logoutEndpoint: { url: 'https://example.auth.eu-west-1.amazoncognito.com/logout', redirectParam: 'logout_uri' },
  });
  expect(providers.microsoft({ tenant: TENANT_A }).issuer).toBe(`https://login.microsoftonline.com/${TENANT_A}/v2.0`);
  expect(providers.keycloak({ url: 'https://sso.example.com', realm: 'staff', scope: 'openid' }).scope).toBe('openid');
  for (const config of [
    providers.google(),
    providers.auth0({ domain: 'example.eu.auth0.com' }),
    providers.okta({ domain: 'example.okta.com', authorizationServer: 'default' }),
    providers.keycloak({ url: 'https://sso.example.com', realm: 'staff' }),
    providers.cognito({ domain: 'example.auth.eu-west-1.amazoncognito.com', region: 'eu-west-1', userPoolId: 'eu-west-1_AbC' }),
    providers.microsoft({ tenant: 'organizations', allowedTenants: [TENANT_A] }),
  ]) {
    expect(() => oauthLogin({ ...config, ...app })).not.toThrow();
  }
  expect(() => oauthLogin({ ...providers.microsoft({ tenant: 'common' }), ...app })).toThrow(/allowedTenants is required/);
});

test('google: offline access parameters give a refresh token; logout is local (no end-session endpoint)', async () => {
  // https://developers.google.com/identity/openid-connect/openid-connect#discovery: no end_session_endpoint.
  const google = await standin({
    issuerPath: '',
    paths: { authorization: '/o/oauth2/v2/auth', token: '/token', jwks: '/oauth2/v3/certs', userinfo: '/v1/userinfo', revocation: '/revoke' },
    refreshToken: (auth) => auth.get('access_type') === 'offline',
    claims: { email: 'user@gmail.test', email_verified: true, hd: 'example.test' },
  });
  const server = await appWith(providers.google({ issuer: google.issuer, allowInsecureRequests: true }));
  const { browser, user } = await loginAt(server);
  expect(google.authorizations[0]!.get('access_type')).toBe('offline');
  expect(google.authorizations[0]!.get('prompt')).toBe('consent');
  expect(user.refreshToken).toEqual(expect.any(String));
  const out = await postLogout(browser, server.url);
  expect(out.status).toBe(302);
  expect(out.location).toBe(`${server.url}/`);
});

test('auth0: the issuer ends with a slash, and audience asks for an access token for that API', async () => {
  const auth0 = await standin({
    issuerPath: '',
    trailingSlash: true,
    paths: { authorization: '/authorize', token: '/oauth/token', jwks: '/.well-known/jwks.json', userinfo: '/userinfo', endSession: '/oidc/logout', revocation: '/oauth/revoke' },
    accessToken: async (auth, sign) => {
      const audience = auth.get('audience');
      return audience ? sign({ iss: `${auth0.issuer}`, aud: [audience, `${auth0.issuer}userinfo`], sub: 'standin-user-1', scope: auth.get('scope') }) : 'opaque';
    },
  });
  const server = await appWith(providers.auth0({ domain: auth0.origin, audience: 'https://api.example.test', allowInsecureRequests: true }));
  const { user } = await loginAt(server);
  expect(auth0.issuer.endsWith('/')).toBe(true);
  expect(auth0.authorizations[0]!.get('audience')).toBe('https://api.example.test');
  expect(decodeJwt(String(user.accessToken)).aud).toContain('https://api.example.test');
  expect(user.claims).toMatchObject({ iss: `${auth0.origin}/` });
});

test('okta: a custom authorization server with endpoints under /v1/, and RP-initiated logout there', async () => {
  const base = '/oauth2/default';
  const okta = await standin({
    issuerPath: base,
    paths: { authorization: `${base}/v1/authorize`, token: `${base}/v1/token`, jwks: `${base}/v1/keys`, userinfo: `${base}/v1/userinfo`, endSession: `${base}/v1/logout`, revocation: `${base}/v1/revoke` },
    refreshToken: (auth) => (auth.get('scope') ?? '').split(' ').includes('offline_access'),
  });
  const server = await appWith(providers.okta({ domain: okta.origin, authorizationServer: 'default', allowInsecureRequests: true }));
  const { browser, user } = await loginAt(server);
  expect(user.refreshToken).toEqual(expect.any(String));
  const out = await postLogout(browser, server.url);
  expect(out.body).toContain(`action="${okta.origin}${base}/v1/logout"`);
});

test('keycloak: the realm issuer with /protocol/openid-connect/ endpoints', async () => {
  const realm = '/realms/staff';
  const p = `${realm}/protocol/openid-connect`;
  const keycloak = await standin({
    issuerPath: realm,
    paths: { authorization: `${p}/auth`, token: `${p}/token`, jwks: `${p}/certs`, userinfo: `${p}/userinfo`, endSession: `${p}/logout`, revocation: `${p}/revoke` },
    claims: { preferred_username: 'alice', realm_access: { roles: ['staff'] } },
  });
  const server = await appWith(providers.keycloak({ url: keycloak.origin, realm: 'staff', allowInsecureRequests: true }));
  const { user } = await loginAt(server);
  expect(user.claims).toMatchObject({ iss: `${keycloak.origin}${realm}`, preferred_username: 'alice' });
});

test("cognito: logout goes to the domain's /logout with client_id and logout_uri, and comes back home", async () => {
  // Issuer on cognito-idp.<region>.amazonaws.com, pages on the user pool domain: here one origin, two paths.
  const pool = '/eu-west-1_Test';
  const cognito = await standin({
    issuerPath: pool,
    paths: { authorization: '/oauth2/authorize', token: '/oauth2/token', jwks: `${pool}/.well-known/jwks.json`, userinfo: '/oauth2/userInfo', logout: '/logout', revocation: '/oauth2/revoke' },
    claims: { 'cognito:username': 'alice', email: 'alice@example.test' },
  });
  const config = providers.cognito({ domain: cognito.origin, region: 'eu-west-1', userPoolId: 'eu-west-1_Test', issuer: cognito.issuer, allowInsecureRequests: true });
  const server = await appWith(config);
  const { browser, user } = await loginAt(server);
  expect(user.claims).toMatchObject({ 'cognito:username': 'alice' });
  const out = await postLogout(browser, server.url);
  expect(out.status).toBe(302);
  const to = new URL(out.location!);
  expect(`${to.origin}${to.pathname}`).toBe(`${cognito.origin}/logout`);
  expect(Object.fromEntries(to.searchParams)).toEqual({ client_id: STANDIN_CLIENT_ID, logout_uri: `${server.url}/logout` });
  const hops = await browser.navigate(out.location!);
  expect(hops.at(-1)!.url).toBe(`${server.url}/`);
  expect((await browser.request(`${server.url}/profile`, { headers: { accept: 'application/json' } })).status).toBe(401);
});

test('microsoft: organizations with allowedTenants against the Entra ID stand-in', async () => {
  const entra = await startEntraStandin();
  closers.push(() => entra.close());
  const config = providers.microsoft({ tenant: 'organizations', authority: entra.origin, allowedTenants: [TENANT_A], allowInsecureRequests: true });
  const server = await appWith(config, { clientId: ENTRA_CLIENT_ID, clientSecret: ENTRA_CLIENT_SECRET });
  const { user } = await loginAt(server);
  expect(user.tenant).toBe(TENANT_A);
  expect(user.refreshToken).toEqual(expect.any(String));
  expect(entra.tokenRequests[0]!.get('grant_type')).toBe('authorization_code');
});
