/**
 * Issue 14, encrypted ID tokens and UserInfo responses (`clientEncryptionKeys`) against oidc-provider with its
 * encryption and JWT UserInfo features: the IdP encrypts to the client's registered public keys (RSA-OAEP-256 for
 * ID tokens, ECDH-ES for UserInfo); openid-client decrypts, then everything is validated as usual. What the IdP sent
 * is captured and decrypted here too. An unencrypted ID token or UserInfo response is refused when the client
 * registered encryption for it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader, importJWK } from 'jose';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { endSessionForm, postLogout } from './helpers/logout.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPrivate = { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'enc-rsa', alg: 'RSA-OAEP-256', use: 'enc' };
const ecPrivate = { ...ec.privateKey.export({ format: 'jwk' }), kid: 'enc-ec', alg: 'ECDH-ES', use: 'enc' };
const publicJwks = {
  keys: [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'enc-rsa', alg: 'RSA-OAEP-256', use: 'enc' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'enc-ec', alg: 'ECDH-ES', use: 'enc' },
  ],
};
const ENCRYPTED_ID_TOKENS = { id_token_encrypted_response_alg: 'RSA-OAEP-256', id_token_encrypted_response_enc: 'A256GCM' };
const ENCRYPTED_USERINFO = { userinfo_signed_response_alg: 'RS256', userinfo_encrypted_response_alg: 'ECDH-ES', userinfo_encrypted_response_enc: 'A128GCM' };

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});
const json = { headers: { accept: 'application/json' } };

/** An app with clientEncryptionKeys at an OP with encryption on and the client registered with `registered`. */
async function setup(registered: Record<string, unknown>, config: Partial<OAuthLoginConfig> = {}): Promise<{ app: TestServer; idp: TestIdp; idTokens: string[] }> {
  const app = await startServer();
  const idp = await startTestIdp({
    appBases: [app.url],
    accessTokenTTL: 20, // below refreshSkew: every protected request refreshes
    clientJwks: publicJwks,
    clientMetadata: registered,
    features: { encryption: { enabled: true }, jwtUserinfo: { enabled: true } },
  });
  closers.push(() => app.close(), () => idp.close());
  // The ID tokens exactly as the token endpoint sent them (login and refresh).
  const idTokens: string[] = [];
  idp.provider.on('grant.success', (ctx) => {
    const body = ctx.body as { id_token?: string } | undefined;
    if (body?.id_token) idTokens.push(body.id_token);
  });
  buildApp({
    server: app,
    issuer: idp.issuer,
    errorHandler: true,
    config: { clientEncryptionKeys: [rsaPrivate, ecPrivate], encryptedResponses: ['id_token', 'userinfo'], fetchUserinfo: true, ...config },
  });
  return { app, idp, idTokens };
}

async function decrypt(jwe: string, jwk: object, alg: string): Promise<string> {
  return new TextDecoder().decode((await compactDecrypt(jwe, await importJWK(jwk, alg))).plaintext);
}

test('encrypted ID token and UserInfo: decrypted, validated, the login, refresh and logout work with the signed ID token', async () => {
  const { app, idp, idTokens } = await setup({ ...ENCRYPTED_ID_TOKENS, ...ENCRYPTED_USERINFO });
  const browser = new Browser();
  const { final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.sub).toBe('alice');
  expect(user.claims.email).toBe('alice@example.com');
  // What the IdP sent, at the code exchange and at the refresh that serving /profile needed (accessTokenTTL 20):
  // JWEs to the client's RSA key, around the ID tokens the app keeps (JWS signed by the IdP).
  expect(idTokens).toHaveLength(2);
  for (const jwe of idTokens) {
    expect(jwe.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'enc-rsa' });
  }
  const inner = await decrypt(idTokens[1]!, rsaPrivate, 'RSA-OAEP-256');
  expect(user.idToken).toBe(inner);
  expect(decodeProtectedHeader(inner).alg).toBe('RS256');
  // UserInfo was fetched, and the IdP answers it as a JWE to the EC key around a signed JWT.
  expect(idp.requests.filter((r) => r === 'GET /me')).toHaveLength(1);
  const userinfo = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${user.accessToken}` } });
  expect(userinfo.headers.get('content-type')).toMatch(/^application\/jwt/);
  const jwe = await userinfo.text();
  expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'ECDH-ES', enc: 'A128GCM', kid: 'enc-ec' });
  expect(decodeProtectedHeader(await decrypt(jwe, ecPrivate, 'ECDH-ES')).alg).toBe('RS256');
  // Another refresh: the new ID token, decrypted, replaces the old one.
  const me = await browser.request(`${app.url}/profile`, json);
  expect(idTokens).toHaveLength(3);
  const refreshed = JSON.parse(me.body);
  expect(refreshed.idToken).toBe(await decrypt(idTokens[2]!, rsaPrivate, 'RSA-OAEP-256'));
  // RP-initiated logout sends the signed ID token as id_token_hint (RP-Initiated Logout §2), and the IdP accepts it.
  const page = await postLogout(browser, app.url);
  expect(endSessionForm(page).fields.get('id_token_hint')).toBe(refreshed.idToken);
  const end = await browser.navigate(endSessionForm(page).action, { method: 'POST', body: endSessionForm(page).fields });
  expect(end.at(-1)!.status).toBe(200);
  expect(end.at(-1)!.body).toMatch(/Sign out of the Demo IdP/);
});

test('an unencrypted ID token is refused (401 id_token_invalid) when the app registered ID token encryption, and nobody is logged in', async () => {
  const { app } = await setup({}, { encryptedResponses: ['id_token'], fetchUserinfo: false });
  const browser = new Browser();
  const { callback } = await login(browser, app.url, { returnTo: '/profile' });
  expect(callback.status).toBe(401);
  expect(JSON.parse(callback.body)).toMatchObject({ code: 'id_token_invalid', message: expect.stringMatching(/not encrypted/) });
  expect((await browser.request(`${app.url}/api/me`, json)).status).toBe(401);
});

test('an unencrypted UserInfo response is refused (401 userinfo_invalid) when the app registered UserInfo encryption', async () => {
  const { app } = await setup({ ...ENCRYPTED_ID_TOKENS });
  const browser = new Browser();
  const { callback } = await login(browser, app.url, { returnTo: '/profile' });
  expect(callback.status).toBe(401);
  expect(JSON.parse(callback.body)).toMatchObject({ code: 'userinfo_invalid', message: expect.stringMatching(/not encrypted/) });
  expect((await browser.request(`${app.url}/api/me`, json)).status).toBe(401);
});

test('an IdP that publishes no ID token encryption answers 500 idp_unsupported', async () => {
  const hostile = await startHostileIdp();
  const server = await startServer();
  closers.push(() => server.close(), () => hostile.close());
  buildApp({
    server,
    issuer: hostile.issuer,
    errorHandler: true,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, clientEncryptionKeys: [rsaPrivate] },
  });
  const res = await new Browser().request(`${server.url}/login`, json);
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ code: 'idp_unsupported', message: expect.stringMatching(/encrypted ID tokens \(no id_token_encryption_alg_values_supported\)/) });
});
