/**
 * Issue 7, responseMode 'form_post' against the real OP: the IdP posts the response to the callback, which answers
 * 303 to returnTo with no-store and no-referrer; a GET callback is refused without spending the state; a POST that
 * comes without the session cookie (what a SameSite=Lax cookie does on a cross-site POST) gets a 400 that explains
 * the cookie setting.
 */
import { jest } from '@jest/globals';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop, formAction, hiddenInputs } from './helpers/browser.js';
import { signInAtIdp } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let idp: TestIdp;
let emitWarning: jest.SpiedFunction<typeof process.emitWarning>;

beforeAll(async () => {
  emitWarning = jest.spyOn(process, 'emitWarning');
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  buildApp({ server: app, issuer: idp.issuer, config: { responseMode: 'form_post' } });
});
afterAll(async () => {
  emitWarning.mockRestore();
  await app.close();
  await idp.close();
});

/** Starts a login and signs in at the IdP; returns the IdP's auto-submitting form_post page. */
async function toFormPostPage(browser: Browser, opts: { cancel?: boolean } = {}): Promise<Hop> {
  const hops = await signInAtIdp(browser, await browser.navigate(`${app.url}/login?returnTo=%2Fprofile`), opts);
  const page = hops.at(-1)!;
  // oidc-provider serves the auto-submitting form with 200, or 400 when it posts an error.
  expect(page.status).toBe(opts.cancel ? 400 : 200);
  expect(formAction(page.body, page.url)).toBe(`${app.url}/callback`);
  return page;
}

test('the authorization request asks for form_post and the posted response completes the login with a 303', async () => {
  const browser = new Browser();
  const start = await browser.request(`${app.url}/login`);
  expect(new URL(start.location!).searchParams.get('response_mode')).toBe('form_post');
  const page = await toFormPostPage(browser);
  const fields = hiddenInputs(page.body);
  expect(fields.get('code')).toBeTruthy();
  expect(fields.get('iss')).toBe(idp.issuer);
  const hops = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: fields });
  const callback = hops[0]!;
  expect(callback.status).toBe(303);
  expect(callback.location).toBe(`${app.url}/profile`);
  expect(callback.headers.get('cache-control')).toBe('no-store');
  expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
  expect(hops.at(-1)!.status).toBe(200);
  expect(JSON.parse(hops.at(-1)!.body).sub).toBe('alice');
});

test('the first login warns once that a SameSite=Lax session cookie will not come with the cross-site POST', () => {
  const formPost = emitWarning.mock.calls.filter(([, options]) => (options as { code?: string })?.code === 'EXPRESS_OAUTH_LOGIN_FORM_POST');
  expect(formPost).toHaveLength(1);
  expect(String(formPost[0]![0])).toMatch(/sameSite: "none", secure: true/);
});

test('a POST without the session cookie (SameSite=Lax on a cross-site POST) answers 400 explaining the cookie, and redeems nothing', async () => {
  const browser = new Browser();
  const page = await toFormPostPage(browser);
  const redeemed = idp.grants.authorization_code ?? 0;
  const res = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: hiddenInputs(page.body), headers: { accept: 'application/json' } });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toEqual({ error: 'state_unknown', message: expect.stringMatching(/SameSite=None; Secure/) });
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(idp.grants.authorization_code ?? 0).toBe(redeemed);
  // The login is still pending in the real session: the same browser (cookie sent) completes it.
  const done = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: hiddenInputs(page.body) });
  expect(done[0]!.status).toBe(303);
});

test('a GET to the callback is refused with callback_invalid and does not spend the state', async () => {
  const browser = new Browser();
  const page = await toFormPostPage(browser);
  const fields = hiddenInputs(page.body);
  const get = await browser.request(`${app.url}/callback?${fields}`, { headers: { accept: 'application/json' } });
  expect(get.status).toBe(400);
  expect(JSON.parse(get.body).error).toBe('callback_invalid');
  expect(get.headers.get('referrer-policy')).toBe('no-referrer');
  const post = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: fields });
  expect(post[0]!.status).toBe(303);
});

test('an error posted back (the user cancels) answers 403 idp_error', async () => {
  const browser = new Browser();
  const page = await toFormPostPage(browser, { cancel: true });
  const fields = hiddenInputs(page.body);
  expect(fields.get('error')).toBe('access_denied');
  const res = await browser.request(`${app.url}/callback`, { method: 'POST', body: fields, headers: { accept: 'application/json' } });
  expect(res.status).toBe(403);
  expect(JSON.parse(res.body).error).toBe('idp_error');
});

test('an IdP whose discovery lists response modes without form_post answers 500 idp_unsupported', async () => {
  const hostile = await startHostileIdp();
  hostile.set({ discovery: { response_modes_supported: ['query', 'fragment'] } });
  const server = await startServer();
  try {
    buildApp({
      server,
      issuer: hostile.issuer,
      errorHandler: true,
      config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, responseMode: 'form_post' },
    });
    const res = await new Browser().request(`${server.url}/login`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'idp_unsupported', message: expect.stringMatching(/responseMode "form_post"/) });
  } finally {
    await server.close();
    await hostile.close();
  }
});
