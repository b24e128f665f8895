/**
 * Issue 14, JARM (JWT Secured Authorization Response Mode) against oidc-provider with its jwtResponseModes feature:
 * `responseMode: 'jwt' | 'query.jwt' | 'form_post.jwt'`. The callback receives one signed JWT and nothing else; the
 * app verifies it (signature against the IdP's JWKS, iss, aud, exp) before reading anything from it. Refusals come
 * from the hand-made hostile IdP: another key, no signature, another audience, expired; nothing is redeemed.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop, formAction, hiddenInputs } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, type Misbehaviour, startHostileIdp } from './helpers/hostile-idp.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});
const json = { headers: { accept: 'application/json' } };

async function setup(config: Partial<OAuthLoginConfig>): Promise<{ app: TestServer; idp: TestIdp }> {
  const app = await startServer();
  const idp = await startTestIdp({ appBases: [app.url], accessTokenTTL: 20, features: { jwtResponseModes: { enabled: true } } });
  closers.push(() => app.close(), () => idp.close());
  buildApp({ server: app, issuer: idp.issuer, config });
  return { app, idp };
}

/** The JARM response verified as the spec says a client must (JARM §2.4), with the IdP's published keys. */
async function verifiedResponse(jwt: string, idp: TestIdp) {
  const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), { issuer: idp.issuer, audience: CLIENT_ID });
  expect(protectedHeader.alg).toBe('RS256');
  expect(payload).toMatchObject({ code: expect.any(String), state: expect.stringMatching(/^[\w-]{43}$/), exp: expect.any(Number) });
  return payload;
}

test.each(['jwt', 'query.jwt'] as const)('responseMode %s: the callback gets only a signed JWT in the query, and the login, refresh and UserInfo complete', async (mode) => {
  const { app, idp } = await setup({ responseMode: mode, fetchUserinfo: true });
  const browser = new Browser();
  const start = await browser.request(`${app.url}/login`);
  expect(new URL(start.location!).searchParams.get('response_mode')).toBe(mode);
  const { callback, final } = await login(browser, app.url, { returnTo: '/profile' });
  const params = new URL(callback.url).searchParams;
  expect([...params.keys()]).toEqual(['response']);
  await verifiedResponse(params.get('response')!, idp);
  expect(callback.status).toBe(302);
  expect(final.status).toBe(200);
  const user = JSON.parse(final.body);
  expect(user.sub).toBe('alice');
  expect(user.claims.email).toBe('alice@example.com');
  const refreshes = idp.grants.refresh_token ?? 0;
  expect((await browser.request(`${app.url}/api/me`, json)).status).toBe(200);
  expect(idp.grants.refresh_token).toBe(refreshes + 1);
});

test('responseMode form_post.jwt: the IdP posts one signed JWT, relayed once when the POST comes without the session cookie', async () => {
  const { app, idp } = await setup({ responseMode: 'form_post.jwt' });
  const browser = new Browser();
  const hops = await signInAtIdp(browser, await browser.navigate(`${app.url}/login?returnTo=%2Fprofile`));
  const page = hops.at(-1)!;
  expect(formAction(page.body, page.url)).toBe(`${app.url}/callback`);
  const fields = hiddenInputs(page.body);
  expect([...fields.keys()]).toEqual(['response']);
  await verifiedResponse(fields.get('response')!, idp);
  // What a Lax cookie does on the IdP's cross-site POST: no cookie. The relay page re-posts the same JWT.
  const relay = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: fields });
  expect(relay.status).toBe(200);
  const relayed = hiddenInputs(relay.body);
  expect(relayed.get('response')).toBe(fields.get('response'));
  const done = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: relayed });
  expect(done[0]!.status).toBe(303);
  expect(JSON.parse(done.at(-1)!.body).sub).toBe('alice');
});

describe('refusals (a hostile IdP)', () => {
  let hostile: HostileIdp;
  let app: TestServer;
  beforeAll(async () => {
    hostile = await startHostileIdp();
    app = await startServer();
    closers.push(() => app.close(), () => hostile.close());
    buildApp({
      server: app,
      issuer: hostile.issuer,
      errorHandler: true,
      config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, responseMode: 'jwt' },
    });
  });

  const jarmDiscovery = { response_modes_supported: ['query', 'jwt', 'query.jwt', 'form_post.jwt'], authorization_signing_alg_values_supported: ['RS256'] };

  async function callback(jarm: Misbehaviour['jarm']): Promise<{ hop: Hop; redeemed: number; browser: Browser }> {
    hostile.set({ discovery: jarmDiscovery, jarm });
    const before = hostile.tokenRequests.length;
    const browser = new Browser();
    const hops = await browser.navigate(`${app.url}/login`, json);
    const hop = hops.find((h) => h.url.startsWith(`${app.url}/callback`))!;
    return { hop, redeemed: hostile.tokenRequests.length - before, browser };
  }

  test('an honest JARM response from it logs in (the refusals below differ in one thing each)', async () => {
    const { hop, redeemed } = await callback(undefined);
    expect(hop.status).toBe(302);
    expect(redeemed).toBe(1);
  });

  test.each([
    ['signed with a key the IdP does not publish', { signing: 'other-key' as const }, /signature does not verify/],
    ['unsigned (alg none)', { signing: 'none' as const }, /algorithm that is not accepted/],
    ['for another audience', { aud: 'someone-else' }, /"aud" claim/],
    ['from another issuer', { iss: 'https://idp.attacker.example' }, /"iss" claim/],
    ['expired', { expired: true }, /expired/],
  ])('a JARM response %s is refused with 400 callback_invalid before anything is redeemed', async (_what, jarm, message) => {
    const { hop, redeemed, browser } = await callback(jarm);
    expect(hop.status).toBe(400);
    expect(JSON.parse(hop.body)).toMatchObject({ code: 'callback_invalid', message: expect.stringMatching(message) });
    expect(redeemed).toBe(0);
    expect((await browser.request(`${app.url}/api/me`, json)).status).toBe(401);
  });

  test('a callback without the response JWT is refused with 400 callback_invalid', async () => {
    const res = await new Browser().request(`${app.url}/callback?code=abc&state=def`, json);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'callback_invalid', message: expect.stringMatching(/"response" JWT/) });
  });

});

test('an IdP that does not offer the JWT response modes answers 500 idp_unsupported', async () => {
  const hostile = await startHostileIdp();
  const app = await startServer();
  closers.push(() => app.close(), () => hostile.close());
  buildApp({ server: app, issuer: hostile.issuer, errorHandler: true, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, responseMode: 'form_post.jwt' } });
  const res = await new Browser().request(`${app.url}/login`, json);
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ code: 'idp_unsupported', message: expect.stringMatching(/responseMode "form_post.jwt"/) });
});
