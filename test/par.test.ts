/**
 * Issue 7, pushed authorization requests (RFC 9126) against the real OP: the redirect carries only client_id and
 * request_uri; PAR is used automatically when the IdP requires it; a refused push or an IdP without PAR is a clear
 * error before the browser is sent anywhere.
 */
import type { OAuthLoginConfig } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { startHostileIdp } from './helpers/hostile-idp.js';
import { CLIENT_ID, type TestIdp, type TestIdpOptions, startTestIdp } from './helpers/idp.js';
import { startServer } from './helpers/servers.js';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function setup(idpOptions: Partial<TestIdpOptions>, config: Partial<OAuthLoginConfig>): Promise<{ url: string; idp: TestIdp }> {
  const app = await startServer();
  const idp = await startTestIdp({ appBases: [app.url], ...idpOptions });
  closers.push(() => app.close(), () => idp.close());
  buildApp({ server: app, issuer: idp.issuer, errorHandler: true, config });
  return { url: app.url, idp };
}

const json = { headers: { accept: 'application/json' } };

test('pushedAuthorizationRequests: the redirect carries only client_id and request_uri, and the login completes', async () => {
  const { url, idp } = await setup({}, { pushedAuthorizationRequests: true });
  const browser = new Browser();
  const start = await browser.request(`${url}/login`);
  expect(start.status).toBe(302);
  const redirect = new URL(start.location!);
  expect(redirect.origin + redirect.pathname).toBe(`${idp.issuer}/auth`);
  expect([...redirect.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  expect(redirect.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(redirect.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  const { final } = await login(browser, url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body).sub).toBe('alice');
});

test('an IdP that requires PAR gets pushed requests without any option', async () => {
  const { url, idp } = await setup({ features: { pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true } } }, {});
  const browser = new Browser();
  const start = await browser.request(`${url}/login`);
  expect(new URL(start.location!).searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  const { final } = await login(browser, url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(idp.grants.authorization_code).toBe(1);
});

test('a push the IdP refuses (wrong client secret) answers 502 idp_error naming invalid_client, with no redirect and no pending login', async () => {
  const { url } = await setup({}, { pushedAuthorizationRequests: true, clientSecret: 'not-the-secret-at-all' });
  const browser = new Browser();
  const res = await browser.request(`${url}/login`, json);
  expect(res.status).toBe(502);
  const body = JSON.parse(res.body);
  expect(body.code).toBe('idp_error');
  expect(body.message).toMatch(/pushed authorization request \(invalid_client\)/);
  expect(body.message).not.toContain('not-the-secret-at-all');
  expect(res.location).toBeUndefined();
  // Nothing was stored: no session cookie was even needed.
  expect(browser.cookie('app.sid')).toBeUndefined();
});

test('pushedAuthorizationRequests with an IdP that has no PAR endpoint answers 500 idp_unsupported', async () => {
  const hostile = await startHostileIdp();
  closers.push(() => hostile.close());
  const app = await startServer();
  closers.push(() => app.close());
  buildApp({ server: app, issuer: hostile.issuer, errorHandler: true, config: { pushedAuthorizationRequests: true } });
  const res = await new Browser().request(`${app.url}/login`, json);
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body)).toMatchObject({ code: 'idp_unsupported', message: expect.stringMatching(/pushedAuthorizationRequests/) });
});
