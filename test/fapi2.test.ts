/**
 * Issue 7, profile 'fapi2' against oidc-provider running its FAPI 2.0 profile with this client registered as FAPI
 * needs it (PAR required, private_key_jwt with PS256, DPoP-bound tokens, PS256 ID tokens): one option gives a login
 * that passes all of it. An IdP that cannot send the RFC 9207 iss parameter is refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { startHostileIdp } from './helpers/hostile-idp.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let idp: TestIdp;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({
    appBases: [app.url],
    tokenEndpointAuthMethod: 'private_key_jwt',
    clientJwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'fapi-1', alg: 'PS256', use: 'sig' }] },
    clientMetadata: {
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      id_token_signed_response_alg: 'PS256',
      token_endpoint_auth_signing_alg: 'PS256',
    },
    signingAlg: 'PS256',
    features: { fapi: { enabled: true, profile: '2.0' } },
  });
  buildApp({
    server: app,
    issuer: idp.issuer,
    errorHandler: true,
    config: { profile: 'fapi2', clientPrivateKey: { ...privateKey.export({ format: 'jwk' }), kid: 'fapi-1' }, clientSecret: undefined },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

test('profile fapi2 logs in at a FAPI 2.0 OP: pushed request, private_key_jwt (PS256), DPoP-bound token, PS256 ID token', async () => {
  const browser = new Browser();
  const start = await browser.request(`${app.url}/login`);
  expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  const { final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.sub).toBe('alice');
  expect(user.tokenType).toBe('DPoP');
  expect(JSON.parse(Buffer.from(user.idToken.split('.')[0], 'base64url').toString()).alg).toBe('PS256');
  expect((await idp.provider.AccessToken.find(user.accessToken))?.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test('an IdP without the RFC 9207 iss parameter (and without PAR, DPoP, private_key_jwt) is refused, each named', async () => {
  const hostile = await startHostileIdp();
  hostile.set({ discovery: { authorization_response_iss_parameter_supported: false } });
  const server = await startServer();
  try {
    buildApp({
      server,
      issuer: hostile.issuer,
      errorHandler: true,
      config: { profile: 'fapi2', clientPrivateKey: { ...privateKey.export({ format: 'jwk' }), kid: 'fapi-1' }, clientSecret: undefined },
    });
    const res = await new Browser().request(`${server.url}/login`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(500);
    const body = JSON.parse(res.body);
    expect(body.code).toBe('idp_unsupported');
    for (const part of [/private_key_jwt/, /pushedAuthorizationRequests/, /dpop/, /RFC 9207 iss/]) expect(body.message).toMatch(part);
  } finally {
    await server.close();
    await hostile.close();
  }
});
