/**
 * Sessions sealed at rest: a dump of Redis after a login (every key `redis-cli --scan` lists, and every value)
 * holds no token, no claim, no e-mail and no session id; a session written in clear by an earlier release is read
 * once and rewritten sealed; an entry copied under another session's key opens nothing; sealedStore() seals an
 * app's own express-session store.
 */
import { execFileSync } from 'node:child_process';
import session from 'express-session';
import { Redis } from 'ioredis';
import { sealedStore, storeKeyOf } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { signOutAtIdp } from './helpers/logout.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, type TestIdp, startTestIdp } from './helpers/idp.js';
import { sessionIdFromCookie, startInstance } from './helpers/instances.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { readStored, redisKeyOf } from './helpers/sealed.js';
import { type TestServer, startServer } from './helpers/servers.js';

let redis: RedisServer;
let idp: TestIdp;
let a: TestServer;
let own: TestServer;
let plain: TestServer;
let raw: Redis;
const inner = new session.MemoryStore();

beforeAll(async () => {
  redis = await startRedis();
  const a0 = await startServer();
  own = await startServer();
  const p0 = await startServer();
  idp = await startTestIdp({ appBases: [a0.url, own.url, p0.url], rotateRefreshTokens: true, backchannelLogoutUri: `${a0.url}/backchannel-logout` });
  a = await startInstance({ issuer: idp.issuer, redis: redis.url, server: a0, config: { backchannelLogout: true } });
  plain = await startInstance({ issuer: idp.issuer, redis: redis.url, server: p0, session: { seal: false, prefix: 'plain:' } });
  buildApp({ server: own, issuer: idp.issuer, store: sealedStore(inner) });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await a.close();
  await own.close();
  await plain.close();
  await idp.close();
  await redis.close();
});

const json = { headers: { accept: 'application/json' } };
const sidOf = (browser: Browser) => sessionIdFromCookie(browser.cookie('app.sid')!.value);

/** Every secret a login leaves with the app: the session id, the tokens, the claims that name the user. */
async function secretsOf(browser: Browser, url: string): Promise<string[]> {
  const profile = JSON.parse((await browser.request(`${url}/profile`, json)).body);
  return [sidOf(browser), profile.accessToken, profile.refreshToken, profile.idToken, profile.claims.email, profile.claims.name, profile.sub];
}

test('redis-cli --scan and a GET of every key after a login: no JWT, no e-mail, no claim, no session id', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const secrets = await secretsOf(browser, a.url);
  expect(secrets.every((s) => typeof s === 'string' && s.length > 0)).toBe(true);
  const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
  const keys = cli('--scan').split('\n').filter(Boolean);
  // The session, and the back-channel index entries of its sid and sub.
  expect(keys.length).toBeGreaterThanOrEqual(3);
  let dump = keys.join('\n');
  for (const key of keys) {
    const type = cli('TYPE', key).trim();
    dump += `\n${type === 'set' ? cli('SMEMBERS', key) : cli('GET', key)}`;
  }
  for (const secret of secrets) expect(dump).not.toContain(secret);
  expect(dump).not.toMatch(/eyJ[\w-]*\.[\w-]*\.?/); // no JWT, JWS or JWE
  expect(dump).not.toMatch(/alice|@example\.com/i);
  // The session is stored under the hash of its id, which the index refers to as well.
  expect(keys).toContain(redisKeyOf(sidOf(browser)));
  expect(dump).toContain(storeKeyOf(sidOf(browser)));
});

test('a session stored in clear by an earlier release is read once and rewritten sealed: the user stays logged in', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const data = (await readStored(raw, sid))!;
  // As an earlier release wrote it: plaintext JSON under the plain id.
  await raw.del(redisKeyOf(sid));
  await raw.set(`sess:${sid}`, JSON.stringify(data), 'EX', 600);
  const res = await browser.request(`${a.url}/api/me`, json);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).sub).toBe('alice');
  expect(await raw.exists(`sess:${sid}`)).toBe(0);
  const sealed = (await raw.get(redisKeyOf(sid)))!;
  expect(sealed).toMatch(/^1\.s1\./);
  expect(sealed).not.toContain(data.oauth.user.tokens.accessToken);
  expect((await readStored(raw, sid))!.oauth.user.sub).toBe('alice');
  expect((await browser.request(`${a.url}/api/me`, json)).status).toBe(200);
});

test("an entry copied under another session's key opens nothing: that session is anonymous", async () => {
  const alice = new Browser();
  const bob = new Browser();
  await login(alice, a.url);
  await login(bob, a.url, { user: 'bob' });
  await raw.set(redisKeyOf(sidOf(bob)), (await raw.get(redisKeyOf(sidOf(alice))))!, 'KEEPTTL');
  expect((await bob.request(`${a.url}/api/me`, json)).status).toBe(401);
  expect((await alice.request(`${a.url}/api/me`, json)).status).toBe(200);
});

test("sealedStore() seals an app's own express-session store: keys are hashes, values hold no token", async () => {
  const browser = new Browser();
  await login(browser, own.url);
  const sid = sidOf(browser);
  const profile = JSON.parse((await browser.request(`${own.url}/profile`, json)).body);
  expect(profile.sub).toBe('alice');
  const stored = (inner as unknown as { sessions: Record<string, string> }).sessions;
  expect(Object.keys(stored)).toContain(storeKeyOf(sid));
  expect(Object.keys(stored)).not.toContain(sid);
  const dump = JSON.stringify(stored);
  for (const secret of [profile.accessToken, profile.refreshToken, profile.idToken, 'alice']) expect(dump).not.toContain(secret);
});

test('an unsealed entry planted under a session key is refused (no forged session), unless sealing is off', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const forged = { ...(await readStored(raw, sid))!, forged: true };
  await raw.set(redisKeyOf(sid), `9.${JSON.stringify(forged)}`, 'KEEPTTL');
  expect((await browser.request(`${a.url}/api/me`, json)).status).toBe(401);
  // seal: false stores (and reads) the session in clear, still under the hashed key and versioned.
  const open = new Browser();
  await login(open, plain.url);
  const value = (await raw.get(redisKeyOf(sidOf(open), 'plain:')))!;
  expect(value).toMatch(/^1\.\{/);
  expect(JSON.parse(value.slice(2)).oauth.user.sub).toBe('alice');
  expect((await open.request(`${plain.url}/api/me`, json)).status).toBe(200);
});

test('a back-channel logout still ends a session logged in and indexed before the upgrade (index keys in clear)', async () => {
  const browser = new Browser();
  await login(browser, a.url);
  const sid = sidOf(browser);
  const data = (await readStored(raw, sid))!;
  const { sub, sid: idpSid } = data.oauth.user;
  // As an earlier release left it: the session in clear under its id, the index in clear with the raw id.
  await raw.del(redisKeyOf(sid));
  await raw.set(`sess:${sid}`, JSON.stringify(data), 'EX', 600);
  for (const key of await raw.keys(`eol:${CLIENT_ID}:bcl:s*`)) await raw.srem(key, storeKeyOf(sid));
  await raw.sadd(`eol:${CLIENT_ID}:bcl:sub:${idp.issuer}|${sub}`, sid);
  await raw.sadd(`eol:${CLIENT_ID}:bcl:sid:${idp.issuer}|${idpSid}`, sid);
  await signOutAtIdp(browser, idp, CLIENT_ID);
  expect((await browser.request(`${a.url}/api/me`, json)).status).toBe(401);
  expect(await raw.get(redisKeyOf(sid))).toBe('~');
});
