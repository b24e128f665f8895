/**
 * attemptSilentLogin() against the real OP: prompt=none once per session. With an IdP session the visitor comes
 * back logged in; without one (login_required) they come back anonymous to the same page, with no error page
 * and no second attempt; API calls and a user who logged out are never redirected.
 */
import type { Request } from 'express';
import { buildApp } from './helpers/app.js';
import { Browser, type Hop } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { postLogout } from './helpers/logout.js';
import { type LoginEvent, attemptSilentLogin } from '../lib/index.js';

let app: TestServer;
let idp: TestIdp;
const logins: LoginEvent[] = [];

beforeAll(async () => {
  app = await startServer();
  idp = await startTestIdp({ appBases: [app.url] });
  buildApp({
    server: app,
    issuer: idp.issuer,
    config: { idpLogout: false, events: { login: (e) => void logins.push(e) } },
    routes: (express) => {
      express.get('/maybe', attemptSilentLogin(), (req: Request, res) => {
        res.json({ sub: req.session.oauth?.user?.sub ?? null });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

const authorizeRequests = (hops: Hop[]) => hops.filter((h) => h.url.startsWith(`${idp.issuer}/auth?`));
const forgetAppCookie = (browser: Browser) => {
  const i = browser.cookies.findIndex((c) => c.name === 'app.sid');
  if (i !== -1) browser.cookies.splice(i, 1);
};

test('with an IdP session, a new app session is logged in silently and lands on the page it asked for', async () => {
  const browser = new Browser();
  await login(browser, app.url, { user: 'bob' });
  forgetAppCookie(browser); // a new app session, same IdP session
  const hops = await browser.navigate(`${app.url}/maybe?x=1`);
  const [authorize] = authorizeRequests(hops);
  expect(new URL(authorize!.url).searchParams.get('prompt')).toBe('none');
  const final = hops.at(-1)!;
  expect(final.url).toBe(`${app.url}/maybe?x=1`);
  expect(JSON.parse(final.body)).toEqual({ sub: 'bob' });
  expect(logins.at(-1)).toMatchObject({ sub: 'bob', silent: true });
  expect(hops.every((h) => !h.url.includes('/interaction/'))).toBe(true);
});

test('without an IdP session, login_required brings the visitor back anonymous, and it is tried only once', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/maybe`);
  expect(authorizeRequests(hops)).toHaveLength(1);
  const callback = hops.find((h) => h.url.startsWith(`${app.url}/callback`))!;
  expect(callback.url).toContain('error=login_required');
  expect(callback.status).toBe(302);
  const final = hops.at(-1)!;
  expect(final.url).toBe(`${app.url}/maybe`);
  expect(final.status).toBe(200);
  expect(JSON.parse(final.body)).toEqual({ sub: null });
  // Remembered in the session: the next page view is served at once.
  const again = await browser.request(`${app.url}/maybe`);
  expect(again.status).toBe(200);
  expect(JSON.parse(again.body)).toEqual({ sub: null });
});

test('API calls are never redirected for a silent login', async () => {
  const res = await new Browser().request(`${app.url}/maybe`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toEqual({ sub: null });
});

test('after a local logout the IdP session does not sign the user straight back in', async () => {
  const browser = new Browser();
  await login(browser, app.url, { user: 'alice' });
  const out = await postLogout(browser, app.url);
  expect(out.location).toBe(`${app.url}/`);
  const page = await browser.request(`${app.url}/maybe`);
  expect(page.status).toBe(200);
  expect(JSON.parse(page.body)).toEqual({ sub: null });
});

test('a logged-in user passes straight through', async () => {
  const browser = new Browser();
  await login(browser, app.url, { user: 'alice' });
  const page = await browser.request(`${app.url}/maybe`);
  expect(page.status).toBe(200);
  expect(JSON.parse(page.body)).toEqual({ sub: 'alice' });
});
