/**
 * Behaviour 6 (issue 12): logout is CSRF-safe. A same-origin POST, the confirmation form and the tokenised link end
 * the app session and, through an RP-initiated logout sent as a form POST with a checked `state`, the IdP session;
 * a request from another site ends neither. The real OP (oidc-provider) serves login, end-session and revocation.
 */
import session from 'express-session';
import { buildApp, startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { CLIENT_ID, type TestIdp } from './helpers/idp.js';
import { login } from './helpers/flow.js';
import { confirmAtIdp, confirmationForm, endSessionForm, postLogout, sameOrigin } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { editSession, readSession, sessionIdOf } from './helpers/store.js';
import { type HostileIdp, HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, startHostileIdp } from './helpers/hostile-idp.js';
import { logoutUrl } from '../lib/index.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();
const errors: Array<{ code: string; path: string }> = [];

let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp({}, {
    store,
    config: { events: { error: (e) => void errors.push(e) } },
    // A page of the app that renders the one-click link, as a template would.
    routes: (a) => a.get('/nav', (req, res) => void res.json({ href: logoutUrl(req), local: res.locals.logoutUrl })),
  }));
});
afterAll(() => close());

const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
/** True when the IdP still knows the browser: /login comes straight back without the sign-in form. */
const idpSessionAlive = async (browser: Browser) => {
  const hops = await browser.navigate(`${app.url}/login`);
  return !hops.some((h) => h.url.includes('/interaction/'));
};

describe('requests that end the session', () => {
  test('a same-origin POST ends the session and answers an auto-submitting POST form to the end_session_endpoint', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    const tokens = readSession(store, sid)!.oauth.user.tokens;
    const res = await postLogout(browser, app.url, { origin: app.url });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.body).toContain(`<script nonce="${nonce}">`);
    const { action, fields } = endSessionForm(res);
    // The ID token travels in the form body: the form's action is the bare endpoint, no query string.
    expect(action).toBe(`${idp.issuer}/session/end`);
    expect(Object.fromEntries(fields)).toEqual({
      client_id: CLIENT_ID,
      post_logout_redirect_uri: `${app.url}/logout`,
      state: expect.stringMatching(/^[\w-]{43}$/),
      id_token_hint: tokens.idToken,
    });
    expect(readSession(store, sid)).toBeUndefined();
    expect((await me(browser)).status).toBe(401);
  });

  test('the whole round trip: the IdP takes the POST, ends its session and sends the browser back with the state, then home', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const page = await postLogout(browser, app.url);
    const { fields } = endSessionForm(page);
    const before = idp.endSessions.length;
    const hops = await confirmAtIdp(browser, page);
    expect(idp.endSessions.slice(before)).toEqual([{ method: 'POST', params: expect.objectContaining({ state: fields.get('state') }) }]);
    // Back at the app with the same state, which the app checks and uses up before going on to postLogoutRedirect.
    const back = hops.find((h) => h.url.startsWith(`${app.url}/logout?`))!;
    expect(new URL(back.url).searchParams.get('state')).toBe(fields.get('state'));
    expect(back.status).toBe(302);
    expect(back.location).toBe(`${app.url}/`);
    expect(hops.at(-1)!.url).toBe(`${app.url}/`);
    // No URL of the whole logout carried a token.
    for (const hop of [page, ...hops]) expect(hop.url).not.toMatch(/id_token_hint|eyJ/);
    expect(idp.events).toContain('end_session.success');
    // No IdP session left: /login lands on the IdP's sign-in form instead of coming straight back.
    const again = await browser.navigate(`${app.url}/login`);
    expect(again.at(-1)!.url).toContain('/interaction/');
    expect(again.at(-1)!.body).toContain('name="password"');
  });

  test('GET /logout answers the confirmation page (no-store, CSP nonce, unframeable); its form ends the session', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    const page = await browser.request(`${app.url}/logout`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('same-origin');
    const csp = page.headers.get('content-security-policy')!;
    const nonce = /style-src 'nonce-([^']+)'/.exec(csp)![1];
    expect(page.body).toContain(`<style nonce="${nonce}">`);
    // A plain HTML form: no script needed.
    expect(page.body).not.toContain('<script');
    const { action, token } = confirmationForm(page);
    expect(action).toBe(`${app.url}/logout`);
    expect(token).toBe(readSession(store, sid)!.oauth.user.logoutToken);
    expect(readSession(store, sid)).toBeDefined();
    expect((await me(browser)).status).toBe(200);
    const ended = await postLogout(browser, app.url, sameOrigin(app.url), new URLSearchParams({ confirm: token }));
    expect(endSessionForm(ended).action).toBe(`${idp.issuer}/session/end`);
    expect(readSession(store, sid)).toBeUndefined();
  });

  test('the confirmation form works even from a browser that sends no Origin, Sec-Fetch-Site or Referer: the token vouches', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const { token } = confirmationForm(await browser.request(`${app.url}/logout`));
    const ended = await postLogout(browser, app.url, {}, new URLSearchParams({ confirm: token }));
    expect(ended.status).toBe(200);
    expect((await me(browser)).status).toBe(401);
  });

  test('the tokenised link from logoutUrl(req) (also res.locals.logoutUrl) ends the session in one GET', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const nav = JSON.parse((await browser.request(`${app.url}/nav`)).body);
    expect(nav.href).toMatch(/^\/logout\?confirm=[\w-]{43}$/);
    expect(nav.local).toBe(nav.href);
    const res = await browser.request(`${app.url}${nav.href}`, { headers: { 'sec-fetch-site': 'same-origin', referer: `${app.url}/nav` } });
    expect(endSessionForm(res).fields.get('client_id')).toBe(CLIENT_ID);
    expect((await me(browser)).status).toBe(401);
    // Afterwards the link is only the plain route (there is no user to log out).
    expect(JSON.parse((await browser.request(`${app.url}/nav`)).body).href).toBe('/logout');
  });

  test('logout without a login just goes back to the app', async () => {
    const res = await postLogout(new Browser(), app.url);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/`);
    expect((await new Browser().request(`${app.url}/logout`)).location).toBe(`${app.url}/`);
  });
});

describe('requests from another site end nothing: neither the app session nor the IdP session', () => {
  const crossSite: Array<[string, Record<string, string>]> = [
    ['an Origin of another site', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling host)', { 'sec-fetch-site': 'same-site' }],
    ['only a foreign Referer', { referer: 'https://evil.example/page' }],
    ['Origin: null and a foreign Referer', { origin: 'null', referer: 'https://evil.example/page' }],
    ['none of Origin, Sec-Fetch-Site, Referer', {}],
  ];

  test.each(crossSite)('a POST with %s is refused: 403 logout_refused', async (_name, headers) => {
    const browser = new Browser();
    await login(browser, app.url);
    const sid = sessionIdOf(browser);
    const before = idp.endSessions.length;
    const res = await browser.request(`${app.url}/logout`, { method: 'POST', headers: { ...headers, accept: 'application/json' } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'logout_refused', message: expect.stringMatching(/still signed in/) });
    expect(errors.at(-1)).toMatchObject({ code: 'logout_refused', path: '/logout' });
    expect(readSession(store, sid)).toBeDefined();
    expect((await me(browser)).status).toBe(200);
    expect(idp.endSessions.length).toBe(before);
    expect(await idpSessionAlive(browser)).toBe(true);
  });

  test('a refused POST as a page says so and offers the confirmation page, never "Start again"', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const res = await browser.request(`${app.url}/logout`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.body).toContain('Sign-out problem');
    expect(res.body).toContain('<a class="button" href="/logout">Sign out</a>');
  });

  test.each(crossSite)('a GET with %s gets the confirmation page and ends nothing', async (_name, headers) => {
    const browser = new Browser();
    await login(browser, app.url);
    const res = await browser.request(`${app.url}/logout`, { headers });
    confirmationForm(res);
    expect((await me(browser)).status).toBe(200);
    expect(await idpSessionAlive(browser)).toBe(true);
  });

  test('a cross-site GET with the right token still gets the confirmation page (a link that leaked cannot be used from elsewhere)', async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const token = readSession(store, sessionIdOf(browser))!.oauth.user.logoutToken;
    const variants: Array<Record<string, string>> = [{ 'sec-fetch-site': 'cross-site' }, { referer: 'https://evil.example/' }];
    for (const headers of variants) {
      confirmationForm(await browser.request(`${app.url}/logout?confirm=${token}`, { headers }));
    }
    expect((await me(browser)).status).toBe(200);
  });

  test.each([
    ['Sec-Purpose: prefetch', { 'sec-purpose': 'prefetch' }],
    ['Sec-Purpose: prefetch;prerender', { 'sec-purpose': 'prefetch;prerender' }],
    ['Purpose: prefetch', { purpose: 'prefetch' }],
  ])('the tokenised link fetched ahead of a click (%s) ends nothing', async (_name, headers) => {
    const browser = new Browser();
    await login(browser, app.url);
    const token = readSession(store, sessionIdOf(browser))!.oauth.user.logoutToken;
    confirmationForm(await browser.request(`${app.url}/logout?confirm=${token}`, { headers: { 'sec-fetch-site': 'same-origin', ...headers } }));
    expect((await browser.request(`${app.url}/logout?confirm=${token}`, { method: 'HEAD', headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    expect((await me(browser)).status).toBe(200);
  });

  test('a GET or POST with a wrong or another session\'s token ends nothing', async () => {
    const other = new Browser();
    await login(other, app.url, { user: 'bob' });
    const othersToken = readSession(store, sessionIdOf(other))!.oauth.user.logoutToken;
    const browser = new Browser();
    await login(browser, app.url);
    confirmationForm(await browser.request(`${app.url}/logout?confirm=${othersToken}`));
    confirmationForm(await browser.request(`${app.url}/logout?confirm=x&confirm=y`));
    const post = await postLogout(browser, app.url, {}, new URLSearchParams({ confirm: othersToken }));
    expect(post.status).toBe(403);
    expect((await me(browser)).status).toBe(200);
    expect((await me(other)).status).toBe(200);
  });
});

describe('the state the IdP sends back', () => {
  /** Logs in, logs out (POST) and returns the state the app sent, without going to the IdP. */
  const loggedOut = async () => {
    const browser = new Browser();
    await login(browser, app.url);
    const state = endSessionForm(await postLogout(browser, app.url)).fields.get('state')!;
    return { browser, state };
  };
  const back = (browser: Browser, query: string) => browser.request(`${app.url}/logout?${query}`, { headers: { accept: 'text/html' } });

  test('a forged state is refused (400 logout_state_invalid, nothing changed) and the real one still works afterwards', async () => {
    const { browser, state } = await loggedOut();
    const forged = await back(browser, 'state=forged-by-someone');
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('logout_state_invalid');
    expect(forged.body).not.toContain('Start again');
    expect(errors.at(-1)).toMatchObject({ code: 'logout_state_invalid' });
    const real = await back(browser, `state=${encodeURIComponent(state)}`);
    expect(real.status).toBe(302);
    expect(real.location).toBe(`${app.url}/`);
  });

  test('a state is good once: the replayed return is refused', async () => {
    const { browser, state } = await loggedOut();
    expect((await back(browser, `state=${state}`)).status).toBe(302);
    expect((await back(browser, `state=${state}`)).status).toBe(400);
  });

  test('a state that took longer than loginTimeout is refused, and used up', async () => {
    const { browser, state } = await loggedOut();
    editSession(store, sessionIdOf(browser), (s) => {
      s.oauth.logout.createdAt -= 601;
    });
    expect((await back(browser, `state=${state}`)).status).toBe(400);
    expect(readSession(store, sessionIdOf(browser))!.oauth.logout).toBeUndefined();
  });

  test('a state in another browser (not the one that logged out) is refused', async () => {
    const { state } = await loggedOut();
    expect((await back(new Browser(), `state=${state}`)).status).toBe(400);
  });

  test('a return with state reaching a logged-in session changes nothing: the user stays logged in', async () => {
    const { state } = await loggedOut();
    const browser = new Browser();
    await login(browser, app.url);
    expect((await back(browser, `state=${state}`)).status).toBe(400);
    expect((await back(browser, 'state=')).status).toBe(400);
    expect((await me(browser)).status).toBe(200);
  });

  test('a return without any state (an IdP that drops it) is an ordinary GET of an anonymous session: home, nothing ends', async () => {
    const { browser } = await loggedOut();
    const res = await back(browser, '');
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/`);
  });
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
    const res = await postLogout(browser, plain.url);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${plain.url}/`);
    expect((await browser.request(`${plain.url}/api/me`, { headers: { accept: 'application/json' } })).status).toBe(401);
  });
});
