/**
 * Issue 7 and 14, responseMode 'form_post' against the real OP: the IdP posts the response to the callback, which
 * answers 303 to returnTo with no-store and no-referrer; a GET callback is refused without spending the state. A POST
 * that comes without the session cookie (what a SameSite=Lax cookie does on the IdP's cross-site POST) gets a relay
 * page that re-posts it same-site (issue 14); a relayed POST still without the cookie gets the usual 400. The same
 * flow in a real browser with a Lax cookie: form-post-browser.test.ts.
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

test('no SameSite warning any more: a Lax session cookie works with form_post', () => {
  const warnings = emitWarning.mock.calls.filter(([, options]) => (options as { code?: string })?.code === 'EXPRESS_OAUTH_LOGIN_FORM_POST');
  expect(warnings).toHaveLength(0);
});

/** The relay page's parts: the CSP nonce, the script's and style's nonces, the form's action and hidden fields. */
function relayParts(hop: Hop) {
  const csp = hop.headers.get('content-security-policy') ?? '';
  return {
    csp,
    nonce: /script-src 'nonce-([^']+)'/.exec(csp)?.[1],
    scriptNonce: /<script nonce="([^"]+)">document\.forms\[0\]\.submit\(\);<\/script>/.exec(hop.body)?.[1],
    styleNonce: /<style nonce="([^"]+)">/.exec(hop.body)?.[1],
    action: formAction(hop.body, hop.url),
    fields: hiddenInputs(hop.body),
  };
}

test('a POST without the session cookie (a Lax cookie on the cross-site POST) gets a relay page that re-posts the same fields; nothing is spent', async () => {
  const browser = new Browser();
  const page = await toFormPostPage(browser);
  const posted = hiddenInputs(page.body);
  const redeemed = idp.grants.authorization_code ?? 0;
  const relay = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: posted });
  expect(relay.status).toBe(200);
  expect(relay.headers.get('content-type')).toMatch(/^text\/html/);
  expect(relay.headers.get('cache-control')).toBe('no-store');
  expect(relay.headers.get('referrer-policy')).toBe('no-referrer');
  expect(relay.headers.get('set-cookie')).toBeNull();
  const parts = relayParts(relay);
  expect(parts.csp).toBe(`default-src 'none'; script-src 'nonce-${parts.nonce}'; style-src 'nonce-${parts.nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`);
  expect(parts.nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  expect(parts.scriptNonce).toBe(parts.nonce);
  expect(parts.styleNonce).toBe(parts.nonce);
  // Same fields, to the callback itself (same-site), plus the mark that makes a second relay impossible.
  expect(parts.action).toBe(`${app.url}/callback`);
  expect([...parts.fields]).toEqual([...posted, ['oauth_login_relay', '1']]);
  // Without JavaScript, a button submits the form.
  expect(relay.body).toMatch(/<button type="submit">Continue<\/button>/);
  expect(idp.grants.authorization_code ?? 0).toBe(redeemed);
  // Another relay request for the same response, and each its own nonce.
  const again = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: posted });
  expect(relayParts(again).nonce).not.toBe(parts.nonce);
  // The hop that carries the cookie (what the browser sends from the relay page) spends the state, once.
  const done = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: parts.fields });
  expect(done[0]!.status).toBe(303);
  expect(done[0]!.location).toBe(`${app.url}/profile`);
  expect(JSON.parse(done.at(-1)!.body).sub).toBe('alice');
  expect(idp.grants.authorization_code).toBe(redeemed + 1);
  const replay = await browser.request(`${app.url}/callback`, { method: 'POST', body: parts.fields, headers: { accept: 'application/json' } });
  expect(replay.status).toBe(400);
  expect(JSON.parse(replay.body).error).toBe('state_unknown');
});

test('a relayed POST that still has no session cookie gets the usual 400 page, never another relay, and redeems nothing', async () => {
  const browser = new Browser();
  const page = await toFormPostPage(browser);
  const relayed = relayParts(await new Browser().request(`${app.url}/callback`, { method: 'POST', body: hiddenInputs(page.body) })).fields;
  const redeemed = idp.grants.authorization_code ?? 0;
  const html = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: relayed });
  expect(html.status).toBe(400);
  expect(html.body).toMatch(/<title>Sign-in problem<\/title>/);
  expect(html.body).not.toMatch(/<form|oauth_login_relay/);
  const res = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: relayed, headers: { accept: 'application/json' } });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toEqual({ error: 'state_unknown', message: expect.stringMatching(/did not send this site's cookies/) });
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(idp.grants.authorization_code ?? 0).toBe(redeemed);
  // The login is still pending in the real session: the browser that has the cookie completes it.
  const done = await browser.navigate(`${app.url}/callback`, { method: 'POST', body: relayed });
  expect(done[0]!.status).toBe(303);
});

test('the relay page relays authorization response fields only, HTML-escaped; a POST naming no login is not relayed', async () => {
  const hostile = new URLSearchParams({
    state: 'x"><script>alert(1)</script>',
    error: 'access_denied',
    error_description: '<img src=x onerror=alert(1)>',
    evil: 'not relayed',
  });
  const relay = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: hostile });
  expect(relay.status).toBe(200);
  expect(relay.body).not.toMatch(/<script>alert|<img/);
  expect(relay.body).toContain('value="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  expect([...relayParts(relay).fields.keys()]).toEqual(['state', 'error', 'error_description', 'oauth_login_relay']);
  const nothing = await new Browser().request(`${app.url}/callback`, { method: 'POST', body: new URLSearchParams({ code: 'abc' }), headers: { accept: 'application/json' } });
  expect(nothing.status).toBe(400);
  expect(JSON.parse(nothing.body).error).toBe('state_missing');
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
