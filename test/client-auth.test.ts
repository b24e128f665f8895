/**
 * Issue 7, client authentication: private_key_jwt (RFC 7523 §2.2, key as a JWK or a PEM) and client_secret_jwt
 * against the real OP with the client registered for exactly that method, so any other method would be refused;
 * a clear idp_unsupported error when discovery does not advertise the method.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, startHostileIdp } from './helpers/hostile-idp.js';
import { CLIENT_SECRET, type TestIdpOptions, startTestIdp } from './helpers/idp.js';
import { startServer } from './helpers/servers.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** An app and an IdP whose client is registered with `idpOptions`; returns the app URL and the IdP. */
async function setup(idpOptions: Partial<TestIdpOptions>, config: Partial<OAuthLoginConfig>) {
  const app = await startServer();
  const idp = await startTestIdp({ appBases: [app.url], ...idpOptions });
  closers.push(() => app.close(), () => idp.close());
  buildApp({ server: app, issuer: idp.issuer, errorHandler: true, config });
  return { url: app.url, idp };
}

function rsaKey(kid: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid },
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

const me = (browser: Browser, url: string) => browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });

test('private_key_jwt with a private JWK logs in at an OP that accepts only private_key_jwt for this client', async () => {
  const key = rsaKey('app-key-1');
  const { url, idp } = await setup(
    // Access tokens live 20 s, less than refreshSkew (30 s): the next request refreshes.
    { tokenEndpointAuthMethod: 'private_key_jwt', clientJwks: { keys: [key.publicJwk] }, accessTokenTTL: 20 },
    { tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: key.privateJwk, clientSecret: undefined },
  );
  const browser = new Browser();
  const { final } = await login(browser, url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
  expect(idp.grants.authorization_code).toBe(1);
  // The refresh grant authenticates with the key as well: /profile (above) and /api/me each refreshed once.
  expect((await me(browser, url)).status).toBe(200);
  expect(idp.grants.refresh_token).toBe(2);
});

test('private_key_jwt with an EC P-256 PEM and clientPrivateKeyId logs in (ES256 assertion)', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { url, idp } = await setup(
    {
      tokenEndpointAuthMethod: 'private_key_jwt',
      clientJwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ec-1' }] },
    },
    {
      tokenEndpointAuthMethod: 'private_key_jwt',
      clientPrivateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      clientPrivateKeyId: 'ec-1',
      clientSecret: undefined,
    },
  );
  const { final } = await login(new Browser(), url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(idp.grants.authorization_code).toBe(1);
});

test('private_key_jwt with a key the OP does not know is refused with token_endpoint_error invalid_client', async () => {
  const registered = rsaKey('k1');
  const other = rsaKey('k1');
  const { url } = await setup(
    { tokenEndpointAuthMethod: 'private_key_jwt', clientJwks: { keys: [registered.publicJwk] } },
    { tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: other.pem, clientPrivateKeyId: 'k1', clientSecret: undefined },
  );
  const browser = new Browser();
  const { callback } = await login(browser, url);
  expect(callback.status).toBe(400);
  const body = JSON.parse(callback.body);
  expect(body.code).toBe('token_endpoint_error');
  expect(body.message).toMatch(/invalid_client/);
  expect(body.message).not.toContain(other.pem.slice(40, 80));
  expect((await me(browser, url)).status).toBe(401);
});

test('client_secret_jwt logs in at an OP that accepts only client_secret_jwt for this client', async () => {
  const { url, idp } = await setup({ tokenEndpointAuthMethod: 'client_secret_jwt' }, { tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: CLIENT_SECRET });
  const { final } = await login(new Browser(), url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(idp.grants.authorization_code).toBe(1);
});

test('the secret method the OP does not allow for the client fails at the token endpoint (control)', async () => {
  const { url, idp } = await setup({ tokenEndpointAuthMethod: 'client_secret_jwt' }, { tokenEndpointAuthMethod: 'client_secret_basic' });
  const { callback } = await login(new Browser(), url);
  expect(callback.status).toBe(400);
  expect(JSON.parse(callback.body).message).toMatch(/invalid_client/);
  expect(idp.grants.authorization_code).toBeUndefined();
});

test('an IdP whose discovery does not advertise the method answers 500 idp_unsupported naming the option, before any redirect', async () => {
  const hostile = await startHostileIdp(); // advertises client_secret_basic and client_secret_post only
  closers.push(() => hostile.close());
  const key = rsaKey('k');
  const app = await startServer();
  closers.push(() => app.close());
  buildApp({
    server: app,
    issuer: hostile.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: key.privateJwk, clientSecret: undefined },
  });
  const res = await new Browser().request(`${app.url}/login`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(500);
  const body = JSON.parse(res.body);
  expect(body.code).toBe('idp_unsupported');
  expect(body.message).toMatch(/tokenEndpointAuthMethod "private_key_jwt".*client_secret_basic, client_secret_post/);
  expect(res.location).toBeUndefined();
});

test('an IdP that takes private_key_jwt but not the key\'s algorithm answers idp_unsupported naming the algorithm', async () => {
  const hostile = await startHostileIdp();
  hostile.set({
    discovery: {
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256'],
    },
  });
  closers.push(() => hostile.close());
  const app = await startServer();
  closers.push(() => app.close());
  buildApp({
    server: app,
    issuer: hostile.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: rsaKey('k').privateJwk, clientSecret: undefined },
  });
  const res = await new Browser().request(`${app.url}/login`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(500);
  const body = JSON.parse(res.body);
  expect(body.code).toBe('idp_unsupported');
  expect(body.message).toMatch(/client assertions signed with RS256 \(it accepts ES256/);
  expect(body.message).not.toMatch(/tokenEndpointAuthMethod/);
});
