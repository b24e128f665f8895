/**
 * RP-initiated logout options against the real OP: `postLogoutRedirect` (a path on this app or an absolute URL
 * registered at the IdP) and `idpLogout: false` (local-only logout: the IdP session stays).
 */
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readSession, sessionIdOf } from './helpers/store.js';
import { resolveConfig } from '../lib/config/schema.js';

let withPath: TestServer;
let localOnly: TestServer;
let idp: TestIdp;
const localStore = new session.MemoryStore();

beforeAll(async () => {
  withPath = await startServer();
  localOnly = await startServer();
  idp = await startTestIdp({ appBases: [withPath.url, localOnly.url] });
  buildApp({ server: withPath, issuer: idp.issuer, config: { postLogoutRedirect: '/goodbye' } });
  buildApp({ server: localOnly, issuer: idp.issuer, store: localStore, config: { idpLogout: false, postLogoutRedirect: '/signed-out' } });
});
afterAll(async () => {
  await withPath.close();
  await localOnly.close();
  await idp.close();
});

const me = (browser: Browser, base: string) => browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } });

test('postLogoutRedirect as a path becomes the absolute post_logout_redirect_uri sent to the IdP', async () => {
  const browser = new Browser();
  await login(browser, withPath.url);
  const res = await browser.request(`${withPath.url}/logout`, { method: 'POST' });
  expect(res.status).toBe(302);
  const target = new URL(res.location!);
  expect(target.origin).toBe(idp.issuer);
  expect(target.searchParams.get('post_logout_redirect_uri')).toBe(`${withPath.url}/goodbye`);
  expect((await me(browser, withPath.url)).status).toBe(401);
});

test('idpLogout: false ends only the local session, goes to postLogoutRedirect, and leaves the IdP session', async () => {
  const browser = new Browser();
  await login(browser, localOnly.url);
  const oldId = sessionIdOf(browser);
  const res = await browser.request(`${localOnly.url}/logout`);
  expect(res.status).toBe(302);
  expect(res.location).toBe(`${localOnly.url}/signed-out`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(readSession(localStore, oldId)).toBeUndefined();
  expect((await me(browser, localOnly.url)).status).toBe(401);
  expect(idp.events).not.toContain('end_session.success');
  // The IdP still knows the user: the next login needs no password.
  const again = await browser.navigate(`${localOnly.url}/login`);
  expect(again.some((h) => h.url.includes('/interaction/'))).toBe(false);
  expect((await me(browser, localOnly.url)).status).toBe(200);
});

test.each([
  ['//evil.example/x', /postLogoutRedirect/],
  ['javascript:alert(1)', /postLogoutRedirect/],
  ['goodbye', /postLogoutRedirect/],
  ['/\\evil.example', /postLogoutRedirect/],
])('postLogoutRedirect %s is refused at start-up', (value, message) => {
  const base = { issuer: 'https://idp.example', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example' };
  expect(() => resolveConfig({ ...base, postLogoutRedirect: value }, {})).toThrow(message);
});

test('postLogoutRedirect may be an absolute URL (registered at the IdP) and defaults to baseURL', () => {
  const base = { issuer: 'https://idp.example', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example/base/' };
  expect(resolveConfig({ ...base, postLogoutRedirect: 'https://www.example/bye' }, {}).postLogoutUrl).toBe('https://www.example/bye');
  expect(resolveConfig({ ...base, postLogoutRedirect: '/bye' }, {}).postLogoutUrl).toBe('https://app.example/base/bye');
  expect(resolveConfig(base, {}).postLogoutUrl).toBe('https://app.example/base/');
});
