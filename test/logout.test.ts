/** Behaviour 6: GET or POST /logout ends the local session and the IdP session (RP-initiated logout). */
import session from 'express-session';
import { buildApp, startAppWithIdp } from './helpers/app.js';
import { Browser, formAction, hiddenInputs } from './helpers/browser.js';
import { CLIENT_ID, type TestIdp } from './helpers/idp.js';
import { login } from './helpers/flow.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { readSession, sessionIdOf } from './helpers/store.js';
import { type HostileIdp, HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();

let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp({}, { store }));
});
afterAll(() => close());

const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });

test.each(['GET', 'POST'])('%s /logout destroys the session and redirects to the end_session_endpoint', async (method) => {
  const browser = new Browser();
  await login(browser, app.url);
  const sid = sessionIdOf(browser);
  const idToken = readSession(store, sid)!.oauth.user.tokens.idToken;
  const res = await browser.request(`${app.url}/logout`, { method });
  expect(res.status).toBe(302);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const target = new URL(res.location!);
  expect(target.origin + target.pathname).toBe(`${idp.issuer}/session/end`);
  expect(target.searchParams.get('id_token_hint')).toBe(idToken);
  expect(target.searchParams.get('post_logout_redirect_uri')).toBe(app.url);
  expect(target.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(readSession(store, sid)).toBeUndefined();
  expect((await me(browser)).status).toBe(401);
});

test('confirming at the IdP ends the IdP session too: the next login asks for the password again', async () => {
  const browser = new Browser();
  await login(browser, app.url);
  const hops = await browser.navigate(`${app.url}/logout`);
  const confirm = hops.at(-1)!;
  expect(confirm.status).toBe(200);
  const form = hiddenInputs(confirm.body);
  form.set('logout', 'yes');
  const done = await browser.navigate(formAction(confirm.body, confirm.url), { method: 'POST', body: form });
  expect(done.some((h) => h.url.startsWith(app.url))).toBe(true);
  expect(done.at(-1)!.url).toBe(`${app.url}/`);
  expect(idp.events).toContain('end_session.success');
  // No IdP session left: /login lands on the IdP's sign-in form instead of coming straight back.
  const again = await browser.navigate(`${app.url}/login`);
  expect(again.at(-1)!.url).toContain('/interaction/');
  expect(again.at(-1)!.body).toContain('name="password"');
});

test('logout without a login just goes back to the app', async () => {
  const res = await new Browser().request(`${app.url}/logout`);
  expect(res.status).toBe(302);
  expect(res.location).toBe(`${app.url}/`);
});

describe('an IdP without end_session_endpoint', () => {
  let hostile: HostileIdp;
  let plain: TestServer;
  beforeAll(async () => {
    hostile = await startHostileIdp();
    plain = await startServer();
    buildApp({ server: plain, issuer: hostile.issuer, config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET } });
  });
  afterAll(async () => {
    await plain.close();
    await hostile.close();
  });

  test('logout ends the local session and redirects to baseURL', async () => {
    const browser = new Browser();
    const hops = await browser.navigate(`${plain.url}/login`);
    expect(hops.at(-1)!.status).toBe(200);
    expect((await browser.request(`${plain.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(200);
    const res = await browser.request(`${plain.url}/logout`, { method: 'POST' });
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${plain.url}/`);
    expect((await browser.request(`${plain.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(401);
  });
});
