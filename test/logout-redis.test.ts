/**
 * Logout across instances with sessions in Redis (oauthSession({ redis })), behind one public URL: a logout sent to
 * one instance ends the session created through the other, the IdP's return with `state` is accepted by either,
 * the tokenised link works anywhere, and a cross-site request reaching any instance ends nothing.
 */
import { Redis } from 'ioredis';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import type { TestIdp } from './helpers/idp.js';
import { sessionIdFromCookie, startTwoInstances } from './helpers/instances.js';
import { confirmAtIdp, endSessionForm, postLogout, sameOrigin } from './helpers/logout.js';
import type { TestServer } from './helpers/servers.js';
import { hasSession, readStored } from './helpers/sealed.js';

let idp: TestIdp;
let a: TestServer;
let b: TestServer;
let raw: Redis;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ idp, a, b, raw, close } = await startTwoInstances());
});
afterAll(() => close());

const sidOf = (browser: Browser) => sessionIdFromCookie(browser.cookie('app.sid')!.value);
const stored = async (sid: string): Promise<Record<string, any>> => (await readStored(raw, sid)) as Record<string, any>;
const me = (browser: Browser, url: string) => browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });

test('a POST to instance B ends the session made through A; the IdP returns to A with the state, which A accepts', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const { refreshToken } = (await stored(sid)).oauth.user.tokens;
  const before = idp.revocations.length;
  // Instance B answers for the public URL (a's): that is the Origin the browser sends.
  const page = await postLogout(browser, b.url, sameOrigin(a.url));
  const { fields } = endSessionForm(page);
  expect(await hasSession(raw, sid)).toBe(0);
  // The fresh session that waits for the IdP's answer is in Redis too, so any instance can check the state.
  expect((await stored(sidOf(browser))).oauth.logout.state).toBe(fields.get('state'));
  expect(idp.revocations.slice(before).filter((r) => r.token === refreshToken)).toHaveLength(1);
  const back = (await confirmAtIdp(browser, page)).find((h) => h.url.startsWith(`${a.url}/logout?state=`))!;
  expect(back.status).toBe(302);
  expect(back.location).toBe(`${a.url}/`);
  expect((await stored(sidOf(browser))).oauth.logout).toBeUndefined();
  expect((await me(browser, b.url)).status).toBe(401);
});

test('the tokenised link of a session made through A works on B', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const token = (await stored(sid)).oauth.user.logoutToken;
  const res = await browser.request(`${b.url}/logout?confirm=${token}`, { headers: { 'sec-fetch-site': 'same-origin' } });
  endSessionForm(res);
  expect(await hasSession(raw, sid)).toBe(0);
});

test('cross-site requests reaching either instance leave the session in Redis and the user logged in', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  for (const url of [a.url, b.url]) {
    expect((await postLogout(browser, url, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await browser.request(`${url}/logout`, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
  }
  expect(await hasSession(raw, sid)).toBe(1);
  expect((await me(browser, b.url)).status).toBe(200);
});
