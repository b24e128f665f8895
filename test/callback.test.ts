/**
 * Behaviour 2 against the real OP: single-use state, regeneration of the session id (fixation), callback headers,
 * replays after a completed login, several tabs, bounded and expiring pending logins, the default error page.
 */
import session from 'express-session';
import { startAppWithIdp } from './helpers/app.js';
import { Browser, formAction } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import type { TestIdp } from './helpers/idp.js';
import type { TestServer } from './helpers/servers.js';

let app: TestServer;
let idp: TestIdp;
const store = new session.MemoryStore();

let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, idp, close } = await startAppWithIdp({}, { store }));
});
afterAll(() => close());

const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
const sessionId = (browser: Browser) => decodeURIComponent(browser.cookie('app.sid')!.value).slice(2).split('.')[0]!;

test('the callback answers 302 to returnTo with no-store and no-referrer, and no code in the Location', async () => {
  const browser = new Browser();
  const { callback, final } = await login(browser, app.url, { returnTo: '/profile' });
  expect(callback.url).toMatch(/\/callback\?code=/);
  expect(callback.status).toBe(302);
  expect(callback.location).toBe(`${app.url}/profile`);
  expect(callback.headers.get('cache-control')).toBe('no-store');
  expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
  expect(final.url).not.toContain('code=');
});

test('replaying the callback URL after a completed login answers 400 with a start-again page and redeems nothing', async () => {
  const browser = new Browser();
  const { callback } = await login(browser, app.url);
  const redeemed = idp.grants.authorization_code;
  const replay = await browser.request(callback.url);
  expect(replay.status).toBe(400);
  expect(replay.headers.get('content-type')).toMatch(/text\/html/);
  expect(replay.body).toContain('state_unknown');
  expect(replay.body).toMatch(/<a class="button" href="\/login">Start again<\/a>/);
  expect(replay.headers.get('cache-control')).toBe('no-store');
  expect(idp.grants.authorization_code).toBe(redeemed);
  // The replay did not log the user out either.
  expect((await me(browser)).status).toBe(200);
});

test('the same callback URL in another browser (stolen code) is refused and redeems nothing', async () => {
  const victim = new Browser();
  const { callback } = await login(victim, app.url, { stopAtCallback: true });
  const redeemed = idp.grants.authorization_code ?? 0;
  const attacker = new Browser();
  const res = await attacker.request(callback.location ?? callback.url);
  expect(res.status).toBe(400);
  expect((await me(attacker)).status).toBe(401);
  expect(idp.grants.authorization_code ?? 0).toBe(redeemed);
});

test('a callback without state answers 400 state_missing; an unknown state 400 state_unknown', async () => {
  const browser = new Browser();
  const missing = await browser.request(`${app.url}/callback?code=abc`, { headers: { accept: 'application/json' } });
  expect(missing.status).toBe(400);
  expect(JSON.parse(missing.body)).toEqual({ error: 'state_missing', message: expect.stringMatching(/Start again/) });
  const unknown = await browser.request(`${app.url}/callback?code=abc&state=xyz`, { headers: { accept: 'application/json' } });
  expect(unknown.status).toBe(400);
  expect(JSON.parse(unknown.body).error).toBe('state_unknown');
});

test('login regenerates the session id: the pre-login session id is worthless afterwards (no fixation)', async () => {
  const browser = new Browser();
  await browser.request(`${app.url}/login`);
  const before = browser.cookie('app.sid')!.value;
  await login(browser, app.url);
  const after = browser.cookie('app.sid')!.value;
  expect(after).not.toBe(before);
  expect((await me(browser)).status).toBe(200);
  const attacker = new Browser();
  attacker.cookies.push({ ...browser.cookie('app.sid')!, value: before });
  expect((await me(attacker)).status).toBe(401);
});

test('a state is single use even when the login fails', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/login`);
  const authorize = new URL(hops[0]!.location!);
  const state = authorize.searchParams.get('state')!;
  const bad = await browser.request(`${app.url}/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`, { headers: { accept: 'application/json' } });
  expect(bad.status).toBe(403);
  expect(JSON.parse(bad.body).error).toBe('idp_error');
  const again = await browser.request(`${app.url}/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`, { headers: { accept: 'application/json' } });
  expect(JSON.parse(again.body).error).toBe('state_unknown');
});

test('cancelling at the IdP answers 403 idp_error with the IdP error code on the page', async () => {
  const browser = new Browser();
  const hops = await signInAtIdp(browser, await browser.navigate(`${app.url}/login`), { cancel: true });
  const last = hops.at(-1)!;
  expect(last.url).toContain('/callback?error=access_denied');
  expect(last.status).toBe(403);
  expect(last.body).toContain('access_denied');
  expect((await me(browser)).status).toBe(401);
});

test('two tabs can log in at once: both pending logins complete', async () => {
  const browser = new Browser();
  const tab1 = await browser.navigate(`${app.url}/login?returnTo=%2Fone`);
  const tab2 = await browser.navigate(`${app.url}/login?returnTo=%2Ftwo`);
  expect(tab1.at(-1)!.url).toContain('/interaction/');
  expect(tab2.at(-1)!.url).toContain('/interaction/');
  const done2 = await signInAtIdp(browser, tab2);
  expect(done2.at(-1)!.url).toBe(`${app.url}/two`);
  // Tab 1's interaction continues with the IdP session that tab 2 created.
  const action = formAction(tab1.at(-1)!.body, tab1.at(-1)!.url);
  const done1 = await browser.navigate(action, {
    method: 'POST',
    body: new URLSearchParams({ login: 'alice', password: 'alice-password' }),
  });
  expect(done1.at(-1)!.url).toBe(`${app.url}/one`);
  expect((await me(browser)).status).toBe(200);
});

test('at most 5 logins are pending per session: the oldest is dropped', async () => {
  const browser = new Browser();
  const starts = [];
  for (let i = 0; i < 6; i++) starts.push(await browser.navigate(`${app.url}/login?returnTo=%2Ft${i}`));
  const oldest = await signInAtIdp(browser, starts[0]!);
  expect(oldest.at(-1)!.status).toBe(400);
  expect(oldest.at(-1)!.body).toContain('state_unknown');
  const newest = await signInAtIdp(browser, starts[5]!);
  expect(newest.at(-1)!.url).toBe(`${app.url}/t5`);
});

test('a pending login older than loginTimeout is refused with login_expired', async () => {
  const browser = new Browser();
  const start = await browser.navigate(`${app.url}/login`);
  // Age the pending login in the real store, as if the user had left the IdP page open for an hour.
  const sid = sessionId(browser);
  const stored = JSON.parse((store as unknown as { sessions: Record<string, string> }).sessions[sid]!);
  for (const p of Object.values(stored.oauth.pending) as Array<{ createdAt: number }>) p.createdAt -= 3600;
  (store as unknown as { sessions: Record<string, string> }).sessions[sid] = JSON.stringify(stored);
  const hops = await signInAtIdp(browser, start);
  expect(hops.at(-1)!.status).toBe(400);
  expect(hops.at(-1)!.body).toContain('login_expired');
  expect((await me(browser)).status).toBe(401);
});

test('the default error page escapes what the IdP sent', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/login`);
  const state = new URL(hops[0]!.location!).searchParams.get('state')!;
  const res = await browser.request(
    `${app.url}/callback?state=${state}&iss=${encodeURIComponent(idp.issuer)}&error=invalid_request&error_description=${encodeURIComponent('<script>alert(1)</script>')}`,
  );
  expect(res.status).toBe(400);
  expect(res.body).not.toContain('<script>alert(1)</script>');
  expect(res.body).toContain('&lt;script&gt;');
});

test('logins started at the same moment in one session (tabs restored together) all stay pending and can finish', async () => {
  const browser = new Browser();
  await browser.request(`${app.url}/login?returnTo=%2Ffirst`); // the session exists from here on
  const starts = await Promise.all([1, 2, 3, 4].map((i) => browser.request(`${app.url}/login?returnTo=%2Ftab${i}`)));
  const sid = decodeURIComponent(browser.cookie('app.sid')!.value).slice(2).split('.')[0]!;
  const stored = JSON.parse((store as unknown as { sessions: Record<string, string> }).sessions[sid]!);
  const states = starts.map((s) => new URL(s.location!).searchParams.get('state'));
  expect(Object.keys(stored.oauth.pending)).toEqual(expect.arrayContaining(states));
  expect(Object.keys(stored.oauth.pending)).toHaveLength(5);
  // And each of them completes (the IdP session from the first sign-in carries the others straight back).
  const first = await signInAtIdp(browser, await browser.navigate(starts[2]!.location!));
  expect(first.at(-1)!.url).toBe(`${app.url}/tab3`);
  const second = await browser.navigate(starts[0]!.location!);
  expect(second.at(-1)!.url).toBe(`${app.url}/tab1`);
});
