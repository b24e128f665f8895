/**
 * Issue 14, JAR (RFC 9101) against oidc-provider with request objects on and required for the client
 * (require_signed_request_object): `requestObject: true` sends the authorization request as a request object signed
 * with clientPrivateKey, by value or through PAR. The request object the IdP received is captured and checked:
 * signature against the client's registered key, header and claims. An IdP without request objects is refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { startHostileIdp } from './helpers/hostile-idp.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'jar-1', alg: 'ES256', use: 'sig' };
const clientPrivateKey = { ...privateKey.export({ format: 'jwk' }), kid: 'jar-1' };

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** An app with `config` at an OP that requires signed request objects; `seen` collects what the OP received. */
async function setup(config: Partial<OAuthLoginConfig>): Promise<{ app: TestServer; idp: TestIdp; pushed: string[] }> {
  const app = await startServer();
  const idp = await startTestIdp({
    appBases: [app.url],
    clientJwks: { keys: [publicJwk] },
    clientMetadata: { require_signed_request_object: true, request_object_signing_alg: 'ES256' },
    features: { requestObjects: { enabled: true } },
  });
  closers.push(() => app.close(), () => idp.close());
  // The request objects the OP's PAR endpoint accepted, as pushed.
  const pushed: string[] = [];
  idp.provider.on('pushed_authorization_request.success', (ctx) => {
    const request = (ctx.oidc as unknown as { body?: Record<string, unknown> }).body?.request;
    if (typeof request === 'string') pushed.push(request);
  });
  buildApp({ server: app, issuer: idp.issuer, errorHandler: true, config: { requestObject: true, clientPrivateKey, ...config } });
  return { app, idp, pushed };
}

/** Verifies a request object as the OP must (RFC 9101 §6.2): the client's registered key, then its claims. */
async function verifyRequestObject(jwt: string, idp: TestIdp, app: TestServer) {
  expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: 'jar-1', typ: 'oauth-authz-req+jwt' });
  const { payload } = await jwtVerify(jwt, createLocalJWKSet({ keys: [publicJwk] }), { issuer: CLIENT_ID, audience: idp.issuer });
  expect(payload).toMatchObject({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: `${app.url}/callback`,
    scope: 'openid profile email',
    code_challenge_method: 'S256',
    state: expect.stringMatching(/^[\w-]{43}$/),
    nonce: expect.stringMatching(/^[\w-]{43}$/),
    code_challenge: expect.stringMatching(/^[\w-]{43}$/),
  });
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
  expect(payload.jti).toEqual(expect.any(String));
  return payload;
}

test('by value: the redirect carries only client_id and a signed request object, which the IdP verified; the login completes', async () => {
  const { app, idp } = await setup({});
  const browser = new Browser();
  const start = await browser.request(`${app.url}/login?returnTo=%2Fprofile`);
  const redirect = new URL(start.location!);
  expect([...redirect.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
  const { final, callback } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
  // The authorization request that reached the IdP's server (the first redirect above was not followed) carried
  // client_id and the request object only; the IdP requires and verified it, or the login would not complete.
  const received = idp.requests.filter((r) => r.startsWith('GET /auth?')).map((r) => new URL(r.slice(4), idp.issuer).searchParams);
  expect(received).toHaveLength(1);
  expect([...received[0]!.keys()].sort()).toEqual(['client_id', 'request']);
  const payload = await verifyRequestObject(received[0]!.get('request')!, idp, app);
  // The code came back for the state inside the request object the IdP accepted.
  expect(new URL(callback.url).searchParams.get('state')).toBe(payload.state);
});

test('through PAR: the request object is pushed, the redirect carries client_id and request_uri, and the login completes', async () => {
  const { app, idp, pushed } = await setup({ pushedAuthorizationRequests: true });
  const browser = new Browser();
  const start = await browser.request(`${app.url}/login`);
  expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  expect(pushed).toHaveLength(1);
  await verifyRequestObject(pushed[0]!, idp, app);
  const { final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
});

test('the IdP enforces it: the same client without requestObject is refused at the authorization endpoint', async () => {
  const { app } = await setup({ requestObject: false, clientPrivateKey: undefined });
  const hops = await new Browser().navigate(`${app.url}/login`);
  expect(hops.at(-1)!.status).toBe(400);
  expect(hops.at(-1)!.body).toMatch(/invalid_request|request object/i);
});

test('an IdP that publishes no request object support answers 500 idp_unsupported naming requestObject', async () => {
  const hostile = await startHostileIdp();
  const server = await startServer();
  closers.push(() => server.close(), () => hostile.close());
  buildApp({ server, issuer: hostile.issuer, errorHandler: true, config: { requestObject: true, clientPrivateKey } });
  const res = await new Browser().request(`${server.url}/login`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(500);
  const body = JSON.parse(res.body);
  expect(body.code).toBe('idp_unsupported');
  expect(body.message).toMatch(/requestObject \(no request_object_signing_alg_values_supported\)/);
  expect(body.message).toMatch(/request_parameter_supported/);
});
