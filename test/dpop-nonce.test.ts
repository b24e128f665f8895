/**
 * Issue 14, DPoP nonce reuse (RFC 9449 §8, §9) against oidc-provider requiring nonces: the nonce the IdP sent last is
 * remembered per server and put into every new proof, so only the very first request to the IdP pays the
 * `use_dpop_nonce` round trip; later pushes, code exchanges, refreshes, UserInfo and resource calls, of this login
 * and of other logins with their own keys, do not. The IdP's own error events count the round trips.
 */
import { randomBytes } from 'node:crypto';
import { fetchWithToken } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let idp: TestIdp;
/** Every use_dpop_nonce answer of the IdP, by endpoint. */
const nonceErrors: string[] = [];
/** Every DPoP-protected request the IdP answered without a nonce challenge. */
const served: string[] = [];

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({
    appBases: [app.url],
    accessTokenTTL: 20, // below refreshSkew: every protected request refreshes
    features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } },
  });
  const count = (endpoint: string) => (_ctx: unknown, err: { error?: string }) => {
    if (err.error === 'use_dpop_nonce') nonceErrors.push(endpoint);
  };
  idp.provider.on('grant.error', count('token'));
  idp.provider.on('pushed_authorization_request.error', count('par'));
  idp.provider.on('userinfo.error', count('userinfo'));
  idp.provider.on('grant.success', (ctx) => void served.push(`token ${String(ctx.oidc.params?.grant_type)}`));
  idp.provider.on('pushed_authorization_request.success', () => void served.push('par'));
  buildApp({
    server: app,
    issuer: idp.issuer,
    config: { dpop: true, pushedAuthorizationRequests: true, fetchUserinfo: true },
    routes: (a) =>
      a.get('/api/userinfo', async (req, res, next) => {
        try {
          const upstream = await fetchWithToken(req, `${idp.issuer}/me`);
          res.status(upstream.status).json(await upstream.json());
        } catch (err) {
          next(err);
        }
      }),
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

const json = { headers: { accept: 'application/json' } };

test('only the first request to the IdP pays a use_dpop_nonce round trip; everything after, for every login, carries the nonce', async () => {
  const alice = new Browser();
  const first = await login(alice, app.url, { returnTo: '/profile' });
  expect(first.final.status).toBe(200);
  expect(JSON.parse(first.final.body).tokenType).toBe('DPoP');
  // The push at /login met the IdP's nonce requirement first; the code exchange, UserInfo, and the refresh that
  // serving /profile needed all carried the nonce it sent.
  expect(nonceErrors).toEqual(['par']);
  for (let i = 0; i < 3; i++) expect((await alice.request(`${app.url}/api/me`, json)).status).toBe(200);
  const upstream = await alice.request(`${app.url}/api/userinfo`, json);
  expect(upstream.status).toBe(200);
  expect(JSON.parse(upstream.body).sub).toBe('alice');
  // Another user: a new login key pair, the same IdP, the remembered nonce.
  const bob = new Browser();
  const second = await login(bob, app.url, { user: 'bob', returnTo: '/api/me' });
  expect(JSON.parse(second.final.body).sub).toBe('bob');
  expect(nonceErrors).toEqual(['par']);
  // What was served meanwhile with that one round trip: 2 pushes, 2 code exchanges, 6 refreshes (one per protected
  // request), UserInfo twice and one resource call. Without the remembered nonce each of these 13 paid one.
  expect(served).toEqual([
    'par',
    'token authorization_code',
    ...Array(5).fill('token refresh_token'),
    'par',
    'token authorization_code',
    'token refresh_token',
  ]);
});
