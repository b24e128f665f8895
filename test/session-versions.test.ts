/**
 * Versioned session writes across two instances on a real redis-server, with the real oidc-provider rotating
 * refresh tokens (and revoking the grant on reuse): a request still in flight across a logout, a back-channel
 * logout or a refresh cannot write its stale copy back; a callback delivered twice at once is redeemed once.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { Browser } from './helpers/browser.js';
import { gate } from './helpers/gate.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { monitorRedis, sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { postLogout, signOutAtIdp } from './helpers/logout.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { readStored, redisKeyOf, writeStored } from './helpers/sealed.js';
import { type TestServer, startServer } from './helpers/servers.js';

let redis: RedisServer;
let idp: TestIdp;
let a: TestServer;
let b: TestServer;
let raw: Redis;

let held = gate();

/** GET /slow: loads the session, waits for the test, then changes the session (as any app route might). */
const slowRoute = (app: express.Express) => {
  app.get('/slow', async (req, res) => {
    const hold = held;
    hold.entered();
    await hold.released;
    const s = req.session as unknown as { visits?: number };
    s.visits = (s.visits ?? 0) + 1;
    res.json({ visits: s.visits });
  });
};

beforeAll(async () => {
  redis = await startRedis();
  const a0 = await startServer();
  const b0 = await startServer();
  idp = await startTestIdp({ appBases: [a0.url], rotateRefreshTokens: true, backchannelLogoutUri: `${b0.url}/backchannel-logout` });
  const config = { backchannelLogout: true };
  a = await startInstance({ issuer: idp.issuer, redis: redis.url, server: a0, config, routes: slowRoute, beforeLogin: holdMarked });
  b = await startInstance({ issuer: idp.issuer, redis: redis.url, server: b0, baseURL: a.url, config, routes: slowRoute, beforeLogin: holdMarked });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await a.close();
  await b.close();
  await idp.close();
  await redis.close();
});

const me = (browser: Browser, url = a.url) => browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });
const sidOf = (browser: Browser) => sessionIdFromCookie(browser.cookie('app.sid')!.value);
/** A second browser holding the same session cookie (e.g. the stolen copy of one). */
const copyOf = (browser: Browser) => {
  const copy = new Browser();
  copy.cookies.push({ ...browser.cookie('app.sid')! });
  return copy;
};

/** Starts GET /slow on `url` and waits until it holds its session. */
async function holdRequest(browser: Browser, url: string) {
  held = gate();
  const response = browser.request(`${url}/slow`);
  await held.inside;
  // Wrapped: an async function returning the promise itself would wait for it.
  return { response };
}

test('a request in flight across a logout does not bring the session back', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const stale = copyOf(browser);
  const slow = await holdRequest(stale, b.url);
  const page = await postLogout(browser, a.url);
  expect(page.status).toBe(200);
  held.release();
  expect((await slow.response).status).toBe(200);
  // The late write changed nothing: the session stays ended on every instance, a tombstone in Redis.
  expect((await me(stale, a.url)).status).toBe(401);
  expect((await me(stale, b.url)).status).toBe(401);
  expect(await raw.get(redisKeyOf(sid))).toBe('~');
});

test('a request in flight across a back-channel logout does not bring the session back', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const slow = await holdRequest(copyOf(browser), a.url);
  await signOutAtIdp(browser, idp, CLIENT_ID);
  held.release();
  expect((await slow.response).status).toBe(200);
  expect((await me(browser, b.url)).status).toBe(401);
  expect(await raw.get(redisKeyOf(sid))).toBe('~');
});

test('a request that loaded the session before a refresh does not write the spent refresh token back', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const expire = async () => {
    const data = (await readStored(raw, sid))!;
    data.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1;
    await writeStored(raw, sid, data);
  };
  await expire();
  const spent = (await readStored(raw, sid))!.oauth.user.tokens.refreshToken as string;
  const slow = await holdRequest(browser, b.url);
  const grants = idp.grants.refresh_token ?? 0;
  expect((await me(browser, a.url)).status).toBe(200);
  expect(idp.grants.refresh_token).toBe(grants + 1);
  const rotated = (await readStored(raw, sid))!.oauth.user.tokens.refreshToken as string;
  expect(rotated).not.toBe(spent);
  held.release();
  expect(JSON.parse((await slow.response).body)).toEqual({ visits: 1 });
  // The slow request's change landed, on top of the newer copy: the rotated token stays.
  const after = (await readStored(raw, sid))!;
  expect(after.visits).toBe(1);
  expect(after.oauth.user.tokens.refreshToken).toBe(rotated);
  // The next refresh presents the rotated token: the IdP (reuse detection on) keeps the grant, the user stays in.
  await expire();
  expect((await me(browser, b.url)).status).toBe(200);
  expect(idp.grants.refresh_token).toBe(grants + 2);
  expect((await me(browser, a.url)).status).toBe(200);
});

/**
 * Requests with `x-test-hold` wait, after their session has loaded, until the test releases them: both deliveries
 * of a callback then hold the same copy of the session, however the scheduler would have ordered them.
 */
let callbackGate = gate();
let arrived = 0;
const holdMarked = (app: express.Express) => {
  app.use(async (req, _res, next) => {
    if (req.headers['x-test-hold']) {
      arrived++;
      await callbackGate.released;
    }
    next();
  });
};
const tokenRequests = () => idp.requests.filter((r) => r.startsWith('POST') && r.includes('/token')).length;

describe.each([
  ['one instance', () => a.url],
  ['two instances', () => b.url],
])('one callback delivered twice at once (%s)', (_name, second) => {
  test('is redeemed once: one login, the other delivery gets the replay page', async () => {
    const browser = new Browser();
    const { callback } = await login(browser, a.url, { stopAtCallback: true });
    const url = callback.location!;
    const codes = idp.grants.authorization_code ?? 0;
    const tokens = tokenRequests();
    callbackGate = gate();
    arrived = 0;
    const hold = { headers: { 'x-test-hold': '1' } };
    const deliveries = [browser.request(url, hold), browser.request(url.replace(a.url, second()), hold)];
    while (arrived < 2) await new Promise((r) => setTimeout(r, 10));
    callbackGate.release();
    const [one, two] = await Promise.all(deliveries);
    expect([one!.status, two!.status].sort()).toEqual([302, 400]);
    const loser = one!.status === 400 ? one! : two!;
    expect(loser.body).toMatch(/does not match a sign-in in progress/);
    // One code redemption reached the IdP: oidc-provider never saw the code twice (which revokes the grant).
    expect(tokenRequests() - tokens).toBe(1);
    expect(idp.grants.authorization_code).toBe(codes + 1);
    expect((await me(browser, a.url)).status).toBe(200);
    expect((await me(browser, b.url)).status).toBe(200);
  });
});

test('a login costs one Redis command more than before versioning (the claim), and the first page one GET', async () => {
  const browser = new Browser();
  await browser.request(`${a.url}/login`); // discovery warm-up, not counted
  const fresh = new Browser();
  const monitor = await monitorRedis(redis.url);
  try {
    const { final } = await login(fresh, a.url, { returnTo: '/api/me' });
    expect(final.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100)); // MONITOR output arrives asynchronously
    // What the app sent (MONITOR also lists the commands a script runs, in the script's upper case), less the
    // back-channel index (a MULTI of SADD + EXPIRE per key, unchanged).
    const sent = monitor.commands.filter((c) => c[0] === c[0]!.toLowerCase());
    const session = sent.filter((c) => !['multi', 'sadd', 'expire', 'exec'].includes(c[0]!));
    // /login: CAS; callback: GET, CAS (claim), EVAL (tombstone of the pre-login session), CAS (new session); page: GET.
    expect(session.map((c) => c[0])).toEqual(['eval', 'get', 'eval', 'eval', 'eval', 'get']);
  } finally {
    await monitor.stop();
  }
});
