/**
 * Logout options against the real OP: `postLogoutRedirect` (where the browser ends, once the IdP's return is
 * checked), `idpLogout: false` (local-only logout: the IdP session stays), `endSessionMethod: 'GET'`, the
 * `logout_hint` fallback without an ID token, and the explicit relaxations `requireLogoutToken: false` and
 * `logoutOrigins`; plus start-up validation of each option.
 */
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser, formAction, hiddenInputs } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { confirmAtIdp, confirmationForm, endSessionForm, postLogout } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { ConfigError } from '../lib/index.js';
import { resolveConfig } from '../lib/config/schema.js';

let withPath: TestServer;
let localOnly: TestServer;
let viaGet: TestServer;
let relaxed: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();
const FRONT_END = 'https://www.example.test';

beforeAll(async () => {
  [withPath, localOnly, viaGet, relaxed] = await Promise.all([startServer(), startServer(), startServer(), startServer()]);
  idp = await startTestIdp({ appBases: [withPath.url, localOnly.url, viaGet.url, relaxed.url] });
  buildApp({ server: withPath, issuer: idp.issuer, store, config: { postLogoutRedirect: '/goodbye' } });
  buildApp({ server: localOnly, issuer: idp.issuer, store, config: { idpLogout: false, postLogoutRedirect: '/signed-out', revokeTokens: false } });
  buildApp({ server: viaGet, issuer: idp.issuer, store, config: { endSessionMethod: 'GET' } });
  buildApp({ server: relaxed, issuer: idp.issuer, store, config: { requireLogoutToken: false, logoutOrigins: [FRONT_END] } });
});
afterAll(async () => {
  await Promise.all([withPath.close(), localOnly.close(), viaGet.close(), relaxed.close()]);
  await idp.close();
});

const me = (browser: Browser, base: string) => browser.request(`${base}/api/me`, { headers: { accept: 'application/json' } });
const idpSessionAlive = async (browser: Browser, base: string) => !(await browser.navigate(`${base}/login`)).some((h) => h.url.includes('/interaction/'));

test('postLogoutRedirect: the IdP returns to the logout route, which checks the state and then sends the browser there', async () => {
  const browser = new Browser();
  await login(browser, withPath.url);
  const page = await postLogout(browser, withPath.url);
  expect(endSessionForm(page).fields.get('post_logout_redirect_uri')).toBe(`${withPath.url}/logout`);
  const back = (await confirmAtIdp(browser, page)).find((h) => h.url.startsWith(`${withPath.url}/logout?state=`))!;
  expect(back.status).toBe(302);
  expect(back.location).toBe(`${withPath.url}/goodbye`);
  expect((await me(browser, withPath.url)).status).toBe(401);
});

test('idpLogout: false ends only the local session, goes to postLogoutRedirect, and leaves the IdP session', async () => {
  const browser = new Browser();
  await login(browser, localOnly.url);
  const oldId = sessionIdOf(browser);
  const before = { ends: idp.endSessions.length, revocations: idp.revocations.length };
  const res = await postLogout(browser, localOnly.url);
  expect(res.status).toBe(302);
  expect(res.location).toBe(`${localOnly.url}/signed-out`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(readSession(store, oldId)).toBeUndefined();
  expect((await me(browser, localOnly.url)).status).toBe(401);
  expect(idp.endSessions.length).toBe(before.ends);
  // revokeTokens: false on this app: the revocation endpoint heard nothing.
  expect(idp.revocations.length).toBe(before.revocations);
  // The IdP still knows the user: the next login needs no password.
  expect(await idpSessionAlive(browser, localOnly.url)).toBe(true);
  expect((await me(browser, localOnly.url)).status).toBe(200);
});

test("endSessionMethod: 'GET' redirects to the end_session_endpoint with the parameters in the query, state included", async () => {
  const browser = new Browser();
  await login(browser, viaGet.url);
  const idToken = readSession(store, sessionIdOf(browser))!.oauth.user.tokens.idToken;
  const res = await postLogout(browser, viaGet.url);
  expect(res.status).toBe(302);
  const target = new URL(res.location!);
  expect(target.origin + target.pathname).toBe(`${idp.issuer}/session/end`);
  expect(target.searchParams.get('id_token_hint')).toBe(idToken);
  expect(target.searchParams.get('client_id')).toBe(CLIENT_ID);
  const state = target.searchParams.get('state')!;
  expect(state).toMatch(/^[\w-]{43}$/);
  // The IdP takes the GET and sends the browser back with the same state.
  const hops = await browser.navigate(res.location!);
  const form = hops.at(-1)!;
  const fields = hiddenInputs(form.body);
  fields.set('logout', 'yes');
  const done = await browser.navigate(formAction(form.body, form.url), { method: 'POST', body: fields });
  const back = done.find((h) => h.url.startsWith(`${viaGet.url}/logout?`))!;
  expect(new URL(back.url).searchParams.get('state')).toBe(state);
  expect(back.location).toBe(`${viaGet.url}/`);
});

test('without an ID token the end-session request carries logout_hint (the IdP sid) and client_id, and the IdP still ends its session', async () => {
  const browser = new Browser();
  await login(browser, withPath.url);
  editSession(store, sessionIdOf(browser), (s) => {
    delete s.oauth.user.tokens.idToken;
    s.oauth.user.sid = 'the-idp-session-id';
  });
  const page = await postLogout(browser, withPath.url);
  const { fields } = endSessionForm(page);
  expect(fields.has('id_token_hint')).toBe(false);
  expect(fields.get('logout_hint')).toBe('the-idp-session-id');
  expect(fields.get('client_id')).toBe(CLIENT_ID);
  const back = (await confirmAtIdp(browser, page)).find((h) => h.url.startsWith(`${withPath.url}/logout?state=`))!;
  expect(back.location).toBe(`${withPath.url}/goodbye`);
  expect(await idpSessionAlive(browser, withPath.url)).toBe(false);
});

describe('requireLogoutToken: false and logoutOrigins', () => {
  test.each([
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
    ['a same-origin Referer', { referer: 'REL/profile' }],
    ['Sec-Fetch-Site: none (typed into the address bar)', { 'sec-fetch-site': 'none' }],
  ])('a GET with %s ends the session without the token', async (_name, headers) => {
    const browser = new Browser();
    await login(browser, relaxed.url);
    const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('REL', relaxed.url)]));
    const res = await browser.request(`${relaxed.url}/logout`, { headers: h });
    expect(endSessionForm(res).action).toBe(`${idp.issuer}/session/end`);
    expect((await me(browser, relaxed.url)).status).toBe(401);
  });

  test.each([
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['a foreign Referer', { referer: 'https://evil.example/' }],
    ['none of the headers', {}],
  ])('a GET with %s still gets the confirmation page', async (_name, headers) => {
    const browser = new Browser();
    await login(browser, relaxed.url);
    confirmationForm(await browser.request(`${relaxed.url}/logout`, { headers }));
    expect((await me(browser, relaxed.url)).status).toBe(200);
  });

  test('a POST from a listed origin (a front end on another origin) ends the session; an unlisted one is refused', async () => {
    const browser = new Browser();
    await login(browser, relaxed.url);
    expect((await postLogout(browser, relaxed.url, { origin: 'https://other.example.test' })).status).toBe(403);
    expect((await me(browser, relaxed.url)).status).toBe(200);
    expect((await postLogout(browser, relaxed.url, { origin: FRONT_END })).status).toBe(200);
    expect((await me(browser, relaxed.url)).status).toBe(401);
  });

  test('a link on a listed origin (cross-site to the browser, its Referer names the origin) ends the session', async () => {
    const browser = new Browser();
    await login(browser, relaxed.url);
    const res = await browser.request(`${relaxed.url}/logout`, { headers: { 'sec-fetch-site': 'cross-site', referer: `${FRONT_END}/account` } });
    expect(res.status).toBe(200);
    endSessionForm(res);
    expect((await me(browser, relaxed.url)).status).toBe(401);
  });
});

describe('start-up validation', () => {
  const base = { issuer: 'https://idp.example', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example' };
  const problems = (config: Record<string, unknown>) => {
    try {
      resolveConfig({ ...base, ...config } as never, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems.join('\n');
    }
    throw new Error('expected a ConfigError');
  };

  test.each([
    ['//evil.example/x', /postLogoutRedirect/],
    ['javascript:alert(1)', /postLogoutRedirect/],
    ['goodbye', /postLogoutRedirect/],
    ['/\\evil.example', /postLogoutRedirect/],
  ])('postLogoutRedirect %s is refused at start-up', (value, message) => {
    expect(() => resolveConfig({ ...base, postLogoutRedirect: value }, {})).toThrow(message);
  });

  test('postLogoutRedirect may be an absolute URL and defaults to baseURL; the IdP always returns to the logout route', () => {
    const b = { ...base, baseURL: 'https://app.example/base/' };
    expect(resolveConfig({ ...b, postLogoutRedirect: 'https://www.example/bye' }, {}).postLogoutUrl).toBe('https://www.example/bye');
    expect(resolveConfig({ ...b, postLogoutRedirect: '/bye' }, {}).postLogoutUrl).toBe('https://app.example/base/bye');
    const c = resolveConfig(b, {});
    expect(c.postLogoutUrl).toBe('https://app.example/base/');
    expect(c.postLogoutReturnUrl).toBe('https://app.example/base/logout');
    expect(c.logoutPath).toBe('/base/logout');
    expect(c.logoutAllowedOrigins).toEqual(['https://app.example']);
  });

  test('defaults: POST end-session, revocation on, the token required, no other origins, no ceiling', () => {
    expect(resolveConfig(base, {})).toMatchObject({ endSessionMethod: 'POST', revokeTokens: true, requireLogoutToken: true, logoutOrigins: [] });
    expect(resolveConfig(base, {}).maxSessionLifetime).toBeUndefined();
  });

  test.each([
    [{ logoutOrigins: ['https://www.example.com/'] }, /logoutOrigins\[0\].*origin like/],
    [{ logoutOrigins: ['https://www.example.com/path'] }, /logoutOrigins\[0\].*no path/],
    [{ logoutOrigins: ['www.example.com'] }, /logoutOrigins\[0\]/],
    [{ logoutOrigins: ['http://www.example.com'] }, /logoutOrigins\[0\] uses http/],
    [{ logoutOrigins: 'https://www.example.com' }, /logoutOrigins/],
    [{ endSessionMethod: 'PUT' }, /endSessionMethod must be "POST".*or "GET"/],
    [{ revokeTokens: 'yes' }, /revokeTokens must be true or false/],
    [{ requireLogoutToken: 0 }, /requireLogoutToken must be true or false/],
    [{ maxSessionLifetime: 30 }, /maxSessionLifetime is in seconds; use at least 60/],
    [{ maxSessionLifetime: 3600.5 }, /maxSessionLifetime is in whole seconds/],
  ])('%j is refused with a message naming the field', (config, message) => {
    expect(problems(config)).toMatch(message);
  });
});
