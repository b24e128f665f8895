/**
 * Logout token validation (Back-Channel Logout 1.0 §2.6) with tokens a hand-made IdP signs on demand: every
 * defect answers 400 invalid_request and ends nothing; a replayed token is refused; a valid one ends the session.
 */
import { randomBytes } from 'node:crypto';
import session from 'express-session';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { sessionIdOf } from './helpers/store.js';

let app: TestServer;
let idp: HostileIdp;
const store = new session.MemoryStore();
/** httpTimeout 500 ms: an ended session is destroyed once more 2 × 500 + 2000 ms later. */
const REDESTROY_MS = 3000;

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  buildApp({
    server: app,
    issuer: idp.issuer,
    store,
    config: { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, backchannelLogout: true, httpTimeout: 500 },
  });
});
afterAll(async () => {
  await app.close();
  await idp.close();
});
afterEach(() => idp.reset());

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const now = () => Math.floor(Date.now() / 1000);

/** A browser logged in at the app, with ID token sid `sid`. */
async function loggedInWithSid(sid: string): Promise<Browser> {
  idp.set({ claims: (c) => ({ ...c, sid }) });
  const browser = new Browser();
  await browser.navigate(`${app.url}/login`);
  idp.reset();
  expect(await loggedIn(browser)).toBe(true);
  return browser;
}

const loggedIn = async (browser: Browser) =>
  (await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } })).status === 200;

function claims(sid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: idp.issuer,
    aud: HOSTILE_CLIENT_ID,
    iat: now(),
    exp: now() + 120,
    jti: randomBytes(8).toString('hex'),
    events: { [EVENT]: {} },
    sub: 'mallory-or-not',
    sid,
    ...extra,
  };
}

const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
  fetch(`${app.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
const postToken = (token: string) => post(new URLSearchParams({ logout_token: token }).toString());

test('a valid logout token answers 200 no-store and ends the session it names', async () => {
  const sid = randomBytes(6).toString('hex');
  const browser = await loggedInWithSid(sid);
  const res = await postToken(await idp.sign(claims(sid), { typ: 'logout+jwt' }));
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(await loggedIn(browser)).toBe(false);
});

test('a logout token for a session this app does not have still answers 200 (nothing to end)', async () => {
  const res = await postToken(await idp.sign(claims('no-such-sid')));
  expect(res.status).toBe(200);
});

test('a replayed logout token (same jti) is refused with 400 and ends nothing', async () => {
  const sid = randomBytes(6).toString('hex');
  const token = await idp.sign(claims(sid));
  expect((await postToken(token)).status).toBe(200);
  const browser = await loggedInWithSid(sid);
  const replay = await postToken(token);
  expect(replay.status).toBe(400);
  expect(await replay.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/already used/) });
  expect(await loggedIn(browser)).toBe(true);
});

type Case = [string, (sid: string) => Promise<string>, RegExp];
const cases: Case[] = [
  ['unsigned (alg none)', (sid) => idp.sign(claims(sid), { signing: 'none' }), /algorithm/],
  ['signed with a key not in the JWKS', (sid) => idp.sign(claims(sid), { signing: 'other-key' }), /signature/],
  ['MACed with the client secret (HS256, not accepted)', (sid) => idp.sign(claims(sid), { signing: 'HS256' }), /algorithm/],
  ['for another audience', (sid) => idp.sign(claims(sid, { aud: 'someone-else' })), /aud/],
  ['from another issuer', (sid) => idp.sign(claims(sid, { iss: 'https://evil.example' })), /iss/],
  ['expired', (sid) => idp.sign(claims(sid, { iat: now() - 600, exp: now() - 300 })), /exp/],
  ['issued in the future', (sid) => idp.sign(claims(sid, { iat: now() + 600, exp: now() + 900 })), /future/],
  ['without exp and old', (sid) => idp.sign(claims(sid, { iat: now() - 3600, exp: undefined })), /too old/],
  ['without jti', (sid) => idp.sign(claims(sid, { jti: undefined })), /jti/],
  ['without iat', (sid) => idp.sign(claims(sid, { iat: undefined })), /iat/],
  ['without events', (sid) => idp.sign(claims(sid, { events: undefined })), /events/],
  ['with events but no logout event', (sid) => idp.sign(claims(sid, { events: { 'urn:other': {} } })), /logout event/],
  ['with a logout event that is not an object', (sid) => idp.sign(claims(sid, { events: { [EVENT]: 'yes' } })), /logout event/],
  ['with neither sid nor sub', (sid) => idp.sign(claims(sid, { sid: undefined, sub: undefined })), /neither/],
  ['with a nonce (an ID token)', (sid) => idp.sign(claims(sid, { nonce: 'n-0' })), /nonce/],
  ['typed as another kind of JWT', (sid) => idp.sign(claims(sid), { typ: 'at+jwt' }), /typ/],
];
test.each(cases)('a logout token %s is refused with 400 invalid_request and ends nothing', async (_name, make, reason) => {
  const sid = randomBytes(6).toString('hex');
  const browser = await loggedInWithSid(sid);
  const res = await postToken(await make(sid));
  expect(res.status).toBe(400);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = await res.json();
  expect(body.error).toBe('invalid_request');
  expect(body.error_description).toMatch(reason);
  expect(await loggedIn(browser)).toBe(true);
});

test('a body that is not a form, or a form without logout_token, is refused with 400', async () => {
  const sid = randomBytes(6).toString('hex');
  const token = await idp.sign(claims(sid));
  expect((await post(JSON.stringify({ logout_token: token }), 'application/json')).status).toBe(400);
  expect((await post('other=1')).status).toBe(400);
  expect((await post(`logout_token=${'a'.repeat(40_000)}`)).status).toBe(400);
});

test('a session that an in-flight request writes back after the logout is destroyed again shortly after', async () => {
  const sid = randomBytes(6).toString('hex');
  const browser = await loggedInWithSid(sid);
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  const id = sessionIdOf(browser);
  const saved = sessions[id]!;
  expect((await postToken(await idp.sign(claims(sid)))).status).toBe(200);
  expect(await loggedIn(browser)).toBe(false);
  // What a request that read the session before the logout and saves it afterwards (e.g. a refresh) would do.
  sessions[id] = saved;
  expect(await loggedIn(browser)).toBe(true);
  await new Promise((r) => setTimeout(r, REDESTROY_MS + 300));
  expect(sessions[id]).toBeUndefined();
  expect(await loggedIn(browser)).toBe(false);
});
