/**
 * Issue 14, mutual TLS (RFC 8705) against oidc-provider with its mTLS feature behind a real TLS server that asks for
 * client certificates (test/helpers/mtls-idp.ts) and certificates made with openssl (test/helpers/tls.ts):
 * tls_client_auth and self_signed_tls_client_auth at the mtls_endpoint_aliases, certificate-bound access tokens
 * (cnf x5t#S256) presented with the same certificate at refresh, UserInfo and fetchWithToken, and refused without it.
 */
import https from 'node:https';
import { fetchWithToken } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, startHostileIdp } from './helpers/hostile-idp.js';
import { type MtlsIdp, startMtlsIdp } from './helpers/mtls-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { type Pem, type TestPki, makeTestPki } from './helpers/tls.js';

const pki: TestPki = makeTestPki();
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

const json = { headers: { accept: 'application/json' } };
const certificate = (pem: Pem) => ({ cert: pem.cert, key: pem.key, ca: pki.ca });

/** An app logging in with `method` and `pem` at an mTLS OP registered for them; /api/upstream calls fetchWithToken. */
async function setup(
  method: 'tls_client_auth' | 'self_signed_tls_client_auth',
  pem: Pem,
  registered: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  clientJwks?: { keys: object[] },
): Promise<{ app: TestServer; idp: MtlsIdp }> {
  const app = await startServer();
  const idp = await startMtlsIdp(pki, {
    appBases: [app.url],
    ...(clientJwks && { clientJwks }),
    accessTokenTTL: 20, // below refreshSkew: every protected request refreshes
    tokenEndpointAuthMethod: method,
    clientMetadata: { tls_client_certificate_bound_access_tokens: true, ...registered },
  });
  closers.push(() => app.close(), () => idp.close());
  buildApp({
    server: app,
    issuer: idp.issuer,
    config: { tokenEndpointAuthMethod: method, clientSecret: undefined, clientCertificate: certificate(pem), fetchUserinfo: true, ...extra },
    routes: (a) =>
      a.get('/api/upstream', async (req, res, next) => {
        try {
          const upstream = await fetchWithToken(req, `${idp.mtlsUrl}/me`);
          res.status(upstream.status).json(await upstream.json());
        } catch (err) {
          next(err);
        }
      }),
  });
  return { app, idp };
}

/** GET `url` with `token`, over TLS with `pem` as the client certificate (or none). */
function callWith(url: string, token: string, pem?: Pem): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: pki.ca, ...(pem && { cert: pem.cert, key: pem.key }), headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tls_client_auth with a CA-signed certificate', () => {
  let app: TestServer;
  let idp: MtlsIdp;
  beforeAll(async () => {
    ({ app, idp } = await setup('tls_client_auth', pki.client, { tls_client_auth_subject_dn: 'CN=test-client' }));
  });

  test('the login authenticates with the certificate at the mTLS token endpoint and the access token is bound to it', async () => {
    const browser = new Browser();
    const { final } = await login(browser, app.url, { returnTo: '/profile' });
    expect(final.status).toBe(200);
    const user = JSON.parse(final.body);
    expect(user.sub).toBe('alice');
    // fetchUserinfo: UserInfo came from the mTLS alias, with the certificate.
    expect(user.claims.email).toBe('alice@example.com');
    const token = idp.seen.find((r) => r.path === '/token' && r.method === 'POST');
    expect(token).toEqual({ path: '/token', method: 'POST', certificate: pki.client.thumbprint, authorized: true });
    expect(idp.seen.find((r) => r.path === '/me')).toMatchObject({ certificate: pki.client.thumbprint });
    // RFC 8705 §3.1: the token's confirmation is the SHA-256 thumbprint of this very certificate.
    expect((await idp.provider.AccessToken.find(user.accessToken))?.['x5t#S256']).toBe(pki.client.thumbprint);
    expect(user.tokenType).toBe('Bearer');
  });

  test('refresh and fetchWithToken present the same certificate; the bound token is refused without it or with another one', async () => {
    const browser = new Browser();
    await login(browser, app.url, { returnTo: '/' });
    const refreshes = idp.grants.refresh_token ?? 0;
    const before = idp.seen.length;
    const upstream = await browser.request(`${app.url}/api/upstream`, json);
    expect(upstream.status).toBe(200);
    expect(JSON.parse(upstream.body).sub).toBe('alice');
    expect(idp.grants.refresh_token).toBe(refreshes + 1);
    const after = idp.seen.slice(before);
    expect(after.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /token', 'GET /me']);
    expect(after.every((r) => r.certificate === pki.client.thumbprint)).toBe(true);
    const { accessToken } = JSON.parse((await browser.request(`${app.url}/api/me`, json)).body);
    expect((await idp.provider.AccessToken.find(accessToken))?.['x5t#S256']).toBe(pki.client.thumbprint);
    // The same token: accepted over the connection with the certificate, refused without it (plain http at the
    // issuer, or TLS without a certificate) and with another client's certificate.
    expect(await callWith(`${idp.mtlsUrl}/me`, accessToken, pki.client)).toBe(200);
    expect((await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(401);
    expect(await callWith(`${idp.mtlsUrl}/me`, accessToken)).toBe(401);
    expect(await callWith(`${idp.mtlsUrl}/me`, accessToken, pki.otherClient)).toBe(401);
  });
});

test('self_signed_tls_client_auth: the registered self-signed certificate authenticates and binds the token', async () => {
  const x5c = [pki.selfSigned.cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')];
  const { createPublicKey } = await import('node:crypto');
  const jwk = { ...createPublicKey(pki.selfSigned.cert).export({ format: 'jwk' }), x5c };
  const { app, idp } = await setup('self_signed_tls_client_auth', pki.selfSigned, {}, {}, { keys: [jwk] });
  const { final } = await login(new Browser(), app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(idp.seen.find((r) => r.path === '/token')).toEqual({ path: '/token', method: 'POST', certificate: pki.selfSigned.thumbprint, authorized: false });
  expect((await idp.provider.AccessToken.find(user.accessToken))?.['x5t#S256']).toBe(pki.selfSigned.thumbprint);
});

test('a certificate the IdP does not accept for the client is refused at the token endpoint (invalid_client), nobody logged in', async () => {
  const { app } = await setup('tls_client_auth', pki.otherClient, { tls_client_auth_subject_dn: 'CN=test-client' });
  const browser = new Browser();
  const { callback } = await login(browser, app.url, { returnTo: '/profile' });
  expect(callback.status).toBe(400);
  expect(callback.body).toMatch(/invalid_client/);
  expect((await browser.request(`${app.url}/api/me`, json)).status).toBe(401);
});

test('tls_client_auth with an IdP whose token endpoint is plain http and that publishes no mtls_endpoint_aliases answers 500 idp_unsupported', async () => {
  const hostile = await startHostileIdp();
  hostile.set({ discovery: { token_endpoint_auth_methods_supported: ['tls_client_auth'] } });
  const server = await startServer();
  closers.push(() => server.close(), () => hostile.close());
  buildApp({
    server,
    issuer: hostile.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: undefined, tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate(pki.client) },
  });
  const res = await new Browser().request(`${server.url}/login`, json);
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ code: 'idp_unsupported', message: expect.stringMatching(/mutual TLS at the token endpoint/) });
});

describe('profile fapi2 with mTLS as the sender constraint and the client authentication', () => {
  test('a FAPI 2.0 OP accepts it: pushed request and code exchange with the certificate, certificate-bound tokens, no DPoP', async () => {
    const app = await startServer();
    const idp = await startMtlsIdp(pki, {
      appBases: [app.url],
      tokenEndpointAuthMethod: 'tls_client_auth',
      clientMetadata: {
        tls_client_auth_subject_dn: 'CN=test-client',
        tls_client_certificate_bound_access_tokens: true,
        require_pushed_authorization_requests: true,
        id_token_signed_response_alg: 'PS256',
      },
      signingAlg: 'PS256',
      features: { fapi: { enabled: true, profile: '2.0' } },
    });
    closers.push(() => app.close(), () => idp.close());
    buildApp({
      server: app,
      issuer: idp.issuer,
      config: { profile: 'fapi2', tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate(pki.client), clientSecret: undefined },
    });
    const browser = new Browser();
    const start = await browser.request(`${app.url}/login`);
    expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const { final } = await login(browser, app.url, { returnTo: '/profile' });
    expect(final.status).toBe(200);
    const user = JSON.parse(final.body);
    expect(user.sub).toBe('alice');
    expect(user.tokenType).toBe('Bearer');
    // Two pushes (the first /login above, then the login's), then the code exchange: all at the aliases, all with
    // the CA-signed certificate.
    expect(idp.seen.map((r) => [r.method, r.path, r.certificate, r.authorized])).toEqual([
      ['POST', '/request', pki.client.thumbprint, true],
      ['POST', '/request', pki.client.thumbprint, true],
      ['POST', '/token', pki.client.thumbprint, true],
    ]);
    const stored = await idp.provider.AccessToken.find(user.accessToken);
    expect(stored?.['x5t#S256']).toBe(pki.client.thumbprint);
    expect(stored?.jkt).toBeUndefined();
  });

  test('an IdP that does not bind tokens to certificates is refused when mTLS is the only sender constraint', async () => {
    const hostile = await startHostileIdp();
    hostile.set({
      discovery: {
        token_endpoint_auth_methods_supported: ['tls_client_auth'],
        mtls_endpoint_aliases: { token_endpoint: 'https://127.0.0.1:1/token' },
        pushed_authorization_request_endpoint: `${hostile.issuer}/par`,
      },
    });
    const server = await startServer();
    closers.push(() => server.close(), () => hostile.close());
    buildApp({
      server,
      issuer: hostile.issuer,
      errorHandler: true,
      config: { clientId: HOSTILE_CLIENT_ID, clientSecret: undefined, profile: 'fapi2', tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate(pki.client) },
    });
    const res = await new Browser().request(`${server.url}/login`, json);
    expect(res.status).toBe(500);
    const body = JSON.parse(res.body);
    expect(body.code).toBe('idp_unsupported');
    expect(body.message).toMatch(/certificate-bound access tokens.*tls_client_certificate_bound_access_tokens/);
    expect(body.message).not.toMatch(/dpop/);
  });
});
