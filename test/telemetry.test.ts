/**
 * Issue 15: OpenTelemetry metrics and traces, recorded with no configuration into the real SDK registered
 * globally (in-memory metric reader and span exporter), against the real OP on two instances sharing a real Redis:
 * a login, failed callbacks, a refresh burst, an ended and a transiently failed refresh, logouts, a back-channel
 * logout and a Redis outage, each with the counters, histograms and spans it should leave, and the IdP seeing the
 * W3C traceparent of our client spans. Finally a scan: no token, code, verifier, session id or e-mail anywhere in
 * what was exported or written to the audit trail, and no sub or IdP session id in any attribute.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import pino from 'pino';
import type { Request } from 'express';
import { ConfigError, attemptSilentLogin, auditLogger, oauthLogin } from '../lib/index.js';
import { startAppWithIdp } from './helpers/app.js';
import { Browser, login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { CLIENT_ID } from './helpers/idp.js';
import { type Cluster2, sessionIdFromCookie, startInstance, startTwoInstances } from './helpers/instances.js';
import { endSessionForm, postLogout } from './helpers/logout.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { registerTestTelemetry } from './helpers/telemetry.js';
import { readStored, writeStored } from './helpers/sealed.js';

const otel = registerTestTelemetry();
const HASH_KEY = 'a-telemetry-user-hash-key-that-is-long-enough-0123456789';

/** The audit trail: real pino writing JSON lines to a stream. */
const auditLines: Array<Record<string, unknown>> = [];
const auditStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line) auditLines.push(JSON.parse(line));
    done();
  },
});
const events = auditLogger(pino({ base: undefined }, auditStream));

/** Values that must never be exported or logged, and values (sub, IdP sid) that must never be an attribute. */
const secrets = new Set<string>();
const personal = new Set<string>(['alice@example.com', 'bob@example.com']);
/** Requests the IdP received, with their traceparent header. */
const seenByIdp: Array<{ method: string; path: string; traceparent?: string }> = [];

let cluster: Cluster2;
beforeAll(async () => {
  cluster = await startTwoInstances(
    { backchannelLogout: true, fetchUserinfo: true, pushedAuthorizationRequests: true, httpTimeout: 5000, events, telemetry: { userHashKey: HASH_KEY } },
    (a) => ({ rotateRefreshTokens: true, accessTokenTTL: 600, backchannelLogoutUri: `${a.url}/backchannel-logout` }),
  );
  cluster.idp.server.on('request', (req) => {
    seenByIdp.push({ method: req.method ?? '', path: new URL(req.url ?? '/', cluster.idp.issuer).pathname, traceparent: req.headers.traceparent as string | undefined });
  });
});
afterAll(async () => {
  await cluster.close();
  await otel.shutdown();
});

const A = {
  provider: 'express_oauth_login.provider',
  outcome: 'express_oauth_login.outcome',
  endpoint: 'express_oauth_login.idp.endpoint',
  storeType: 'express_oauth_login.session_store.type',
  storeOperation: 'express_oauth_login.session_store.operation',
};
const json = { headers: { accept: 'application/json' } };
const session = async (sid: string) => (await readStored(cluster.raw, sid))!;

/** Logs `user` in on instance a, remembering every secret the login handles: verifier, nonce, code, ids, tokens. */
async function signIn(browser: Browser, user = 'alice'): Promise<string> {
  const { final } = await login(browser, cluster.a.url, { user, returnTo: '/api/me', stopAtCallback: true });
  const before = session(sessionIdFromCookie(browser.cookie('app.sid')!.value));
  for (const pending of Object.values((await before).oauth.pending) as Array<{ codeVerifier: string; nonce: string }>) {
    secrets.add(pending.codeVerifier);
    secrets.add(pending.nonce);
  }
  secrets.add(sessionIdFromCookie(browser.cookie('app.sid')!.value));
  const callbackUrl = new URL(final.location!);
  secrets.add(callbackUrl.searchParams.get('code')!);
  const hops = await browser.navigate(callbackUrl.href, json);
  expect(hops.at(-1)!.status).toBe(200);
  const sid = sessionIdFromCookie(browser.cookie('app.sid')!.value);
  secrets.add(sid);
  const stored = (await session(sid)).oauth.user;
  for (const token of [stored.tokens.accessToken, stored.tokens.refreshToken, stored.tokens.idToken]) secrets.add(token);
  personal.add(stored.sub);
  personal.add(stored.sid);
  return sid;
}

const issuerLabel = () => ({ [A.provider]: cluster.idp.issuer });

/**
 * Holds requests to the IdP's token endpoint until `ready()` says so: a burst is then sure to be in flight,
 * every request having loaded its session, before the one refresh grant can answer.
 */
function holdTokenEndpoint(ready: () => Promise<boolean>): () => void {
  const { server } = cluster.idp;
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const forward = () => listeners.forEach((listener) => listener.call(server, req, res));
    if (req.method !== 'POST' || !req.url?.startsWith('/token')) return forward();
    void (async () => {
      while (!(await ready())) await new Promise((r) => setTimeout(r, 5));
      forward();
    })();
  });
  return () => {
    server.removeAllListeners('request');
    for (const listener of listeners) server.on('request', listener);
  };
}

test('a login: counted ok with its duration, a callback span whose IdP client spans carry traceparent to the IdP', async () => {
  const okBefore = await otel.total('express_oauth_login.logins', { [A.outcome]: 'ok' });
  const durationBefore = await otel.total('express_oauth_login.login.duration', { [A.outcome]: 'ok' });
  seenByIdp.length = 0;
  await signIn(new Browser());

  expect(await otel.total('express_oauth_login.logins', { ...issuerLabel(), [A.outcome]: 'ok', 'express_oauth_login.login.kind': 'interactive' })).toBe(okBefore + 1);
  expect(await otel.total('express_oauth_login.login.duration', { [A.outcome]: 'ok' })).toBe(durationBefore + 1);
  const duration = (await otel.points()).find((p) => p.name === 'express_oauth_login.login.duration' && p.attributes[A.outcome] === 'ok')!;
  expect(duration.unit).toBe('s');
  expect(duration.scope).toBe('express-oauth-login');
  expect(duration.sum).toBeGreaterThan(0);

  // The callback span, and the token and UserInfo calls inside it as HTTP client spans (semantic conventions).
  const callback = otel.spans().filter((s) => s.name === 'express_oauth_login.callback').at(-1)!;
  expect(callback.attributes).toMatchObject({ ...issuerLabel(), [A.outcome]: 'ok', 'express_oauth_login.login.kind': 'interactive' });
  const expectedHash = createHmac('sha256', HASH_KEY).update(`${cluster.idp.issuer}\nalice`).digest('base64url').slice(0, 22);
  expect(callback.attributes['user.hash']).toBe(expectedHash);
  const children = otel.spans().filter((s) => s.parentSpanContext?.spanId === callback.spanContext().spanId);
  const token = children.find((s) => s.attributes[A.endpoint] === 'token')!;
  const issuer = new URL(cluster.idp.issuer);
  expect(token).toMatchObject({ name: 'POST', kind: SpanKind.CLIENT });
  expect(token.attributes).toEqual({
    'http.request.method': 'POST',
    'server.address': issuer.hostname,
    'server.port': Number(issuer.port),
    'url.full': `${issuer.origin}/token`,
    'http.response.status_code': 200,
    [A.endpoint]: 'token',
  });
  expect(token.spanContext().traceId).toBe(callback.spanContext().traceId);
  expect(children.find((s) => s.attributes[A.endpoint] === 'userinfo')).toMatchObject({ name: 'GET', kind: SpanKind.CLIENT });

  // The IdP saw the token request with the token span as its parent (W3C Trace Context).
  const tokenRequest = seenByIdp.find((r) => r.method === 'POST' && r.path === '/token')!;
  const [version, traceId, parentId, flags] = tokenRequest.traceparent!.split('-');
  expect({ version, traceId, parentId, flags }).toEqual({ version: '00', traceId: callback.spanContext().traceId, parentId: token.spanContext().spanId, flags: '01' });
  // Every call to the IdP from the app carries one: PAR at /login, the token and UserInfo calls.
  expect(seenByIdp.filter((r) => ['/request', '/token', '/me'].includes(r.path)).every((r) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/.test(r.traceparent ?? ''))).toBe(true);

  // IdP call durations by endpoint and status; discovery and JWKS were called once, on the first login.
  for (const endpoint of ['discovery', 'jwks', 'par', 'token', 'userinfo']) {
    expect(await otel.total('express_oauth_login.idp.request.duration', { [A.endpoint]: endpoint })).toBeGreaterThanOrEqual(1);
  }
  expect(await otel.total('express_oauth_login.idp.request.duration', { [A.endpoint]: 'par', 'http.response.status_code': 201 })).toBeGreaterThanOrEqual(1);
  expect(await otel.total('express_oauth_login.idp.request.duration', { [A.endpoint]: 'token', 'http.response.status_code': 200 })).toBeGreaterThanOrEqual(1);
  // Session store operations of the login, timed per operation.
  for (const operation of ['get', 'set', 'destroy']) {
    expect(await otel.total('express_oauth_login.session_store.duration', { [A.storeType]: 'redis', [A.storeOperation]: operation })).toBeGreaterThanOrEqual(1);
  }
}, 30_000);

test('failed callbacks: counted by error code; with a pending login, the duration and the refused token call too', async () => {
  const unknownBefore = await otel.total('express_oauth_login.logins', { [A.outcome]: 'state_unknown' });
  const res = await new Browser().request(`${cluster.a.url}/callback?code=forged-code&state=forged-state`, json);
  expect(res.status).toBe(400);
  expect(await otel.total('express_oauth_login.logins', { [A.outcome]: 'state_unknown' })).toBe(unknownBefore + 1);
  // No login was started, so there is no duration to record.
  expect(await otel.total('express_oauth_login.login.duration', { [A.outcome]: 'state_unknown' })).toBe(0);
  const span = otel.spans().filter((s) => s.name === 'express_oauth_login.callback').at(-1)!;
  expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'state_unknown' });

  // A started login whose code the token endpoint refuses.
  const browser = new Browser();
  const { final } = await login(browser, cluster.a.url, { returnTo: '/api/me', stopAtCallback: true });
  const callbackUrl = new URL(final.location!);
  secrets.add(callbackUrl.searchParams.get('code')!);
  callbackUrl.searchParams.set('code', 'a-code-the-idp-never-issued');
  const refused = await browser.request(callbackUrl.href, json);
  expect(refused.status).toBe(400);
  expect(JSON.parse(refused.body).error).toBe('token_endpoint_error');
  expect(await otel.total('express_oauth_login.logins', { [A.outcome]: 'token_endpoint_error', 'express_oauth_login.login.kind': 'interactive' })).toBe(1);
  expect(await otel.total('express_oauth_login.login.duration', { [A.outcome]: 'token_endpoint_error' })).toBe(1);
  const callback = otel.spans().filter((s) => s.name === 'express_oauth_login.callback').at(-1)!;
  expect(callback.status).toEqual({ code: SpanStatusCode.ERROR, message: 'token_endpoint_error' });
  const token = otel.spans().find((s) => s.parentSpanContext?.spanId === callback.spanContext().spanId && s.attributes[A.endpoint] === 'token')!;
  expect(token.attributes).toMatchObject({ 'http.response.status_code': 400, 'error.type': '400' });
  expect(token.status).toEqual({ code: SpanStatusCode.ERROR, message: '400' });
}, 30_000);

test('a login that fails before the redirect (the IdP unreachable at /login) is counted by its code', async () => {
  const dead = await startServer();
  const issuer = dead.url;
  await dead.close(); // nothing listens there any more: connections are refused
  const app = await startInstance({ issuer, redis: cluster.redis.url });
  try {
    const res = await new Browser().request(`${app.url}/login`, json);
    expect(res.status).toBe(503);
    expect(await otel.total('express_oauth_login.logins', { [A.provider]: issuer, [A.outcome]: 'idp_unavailable', 'express_oauth_login.login.kind': 'interactive' })).toBe(1);
    expect(await otel.total('express_oauth_login.idp.request.duration', { [A.endpoint]: 'discovery', 'error.type': 'idp_unavailable' })).toBe(1);
  } finally {
    await app.close();
  }
});

test('a refresh burst on two instances: exactly one refreshed, every other request coalesced', async () => {
  const browser = new Browser();
  const sid = await signIn(browser);
  const outcomes = async () =>
    Object.fromEntries(await Promise.all(['refreshed', 'coalesced', 'ended', 'transient_failure'].map(async (o) => [o, await otel.total('express_oauth_login.refreshes', { [A.outcome]: o })])));
  const before = await outcomes();
  const data = await session(sid);
  data.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1;
  await writeStored(cluster.raw, sid, data);
  const grantsBefore = cluster.idp.grants.refresh_token ?? 0;
  // Each request loads its session with one store GET: the grant answers once all 20 have.
  const gets = () => otel.total('express_oauth_login.session_store.duration', { [A.storeOperation]: 'get' });
  const getsBefore = await gets();
  const release = holdTokenEndpoint(async () => (await gets()) >= getsBefore + 20);

  let responses;
  try {
    responses = await Promise.all(Array.from({ length: 20 }, (_, i) => browser.request(`${i % 2 ? cluster.b.url : cluster.a.url}/api/me`, json)));
  } finally {
    release();
  }
  expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect(cluster.idp.grants.refresh_token! - grantsBefore).toBe(1);
  await new Promise((r) => setTimeout(r, 50)); // outcomes are counted when each request's attempt settles
  const after = await outcomes();
  expect({ refreshed: after.refreshed - before.refreshed, coalesced: after.coalesced - before.coalesced }).toEqual({ refreshed: 1, coalesced: 19 });
  expect(after.ended).toBe(before.ended);
  expect(after.transient_failure).toBe(before.transient_failure);
  const stored = (await session(sid)).oauth.user.tokens;
  secrets.add(stored.accessToken);
  secrets.add(stored.refreshToken);
  if (stored.idToken) secrets.add(stored.idToken);
}, 45_000);

test('a refresh the IdP refuses (invalid_grant) ends the session: counted ended', async () => {
  const browser = new Browser();
  const sid = await signIn(browser);
  const endedBefore = await otel.total('express_oauth_login.refreshes', { [A.outcome]: 'ended' });
  const data = await session(sid);
  data.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1;
  data.oauth.user.tokens.refreshToken = 'a-refresh-token-the-idp-never-issued-0123456789';
  secrets.add(data.oauth.user.tokens.refreshToken);
  await writeStored(cluster.raw, sid, data);
  expect((await browser.request(`${cluster.b.url}/api/me`, json)).status).toBe(401);
  expect(await otel.total('express_oauth_login.refreshes', { ...issuerLabel(), [A.outcome]: 'ended' })).toBe(endedBefore + 1);
}, 30_000);

test('logouts are counted, with whether the browser went on to the IdP', async () => {
  const browser = new Browser();
  await signIn(browser);
  const before = await otel.total('express_oauth_login.logouts', { 'express_oauth_login.logout.idp': true });
  // A same-origin POST ends the session (README "Logout"); the end-session request is an auto-submitting form.
  const res = await postLogout(browser, cluster.a.url);
  expect(res.status).toBe(200);
  expect(endSessionForm(res).action).toContain(cluster.idp.issuer);
  expect(await otel.total('express_oauth_login.logouts', { ...issuerLabel(), 'express_oauth_login.logout.idp': true })).toBe(before + 1);
}, 30_000);

test('a back-channel logout from the IdP: counted ok with the sessions it ended; a refused token by its code', async () => {
  const browser = new Browser();
  const sid = await signIn(browser, 'bob');
  const idpSid = (await session(sid)).oauth.user.sid as string;
  const client = await cluster.idp.provider.Client.find(CLIENT_ID);
  // oidc-provider signs the logout token and POSTs it to the app, as when the user signs out at the IdP.
  await (client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> }).backchannelLogout('bob', idpSid);
  expect((await browser.request(`${cluster.b.url}/api/me`, json)).status).toBe(401);
  expect(await otel.total('express_oauth_login.backchannel_logouts', { ...issuerLabel(), [A.outcome]: 'ok' })).toBe(1);
  expect(await otel.total('express_oauth_login.backchannel_logout.sessions', issuerLabel())).toBe(1);

  const refused = await fetch(`${cluster.a.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: 'not.a.jwt' }),
  });
  expect(refused.status).toBe(400);
  expect(await otel.total('express_oauth_login.backchannel_logouts', { [A.outcome]: 'logout_token_invalid' })).toBe(1);
  expect(await otel.total('express_oauth_login.backchannel_logout.sessions')).toBe(1);
}, 30_000);

describe('when the IdP is too slow for a refresh (MemoryStore instance)', () => {
  let hostile: HostileIdp;
  let c: TestServer;
  beforeAll(async () => {
    hostile = await startHostileIdp();
    c = await startServer();
    // expires_in is 300 at this IdP: with refreshSkew 300 every request refreshes.
    const config = { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, httpTimeout: 2000, refreshSkew: 300, events };
    c = await startInstance({ issuer: hostile.issuer, redis: undefined, server: c, config });
  });
  afterAll(async () => {
    await c.close();
    await hostile.close();
  });

  test('the refresh is a transient_failure, its token call an idp_timeout span, and the memory store is timed', async () => {
    const browser = new Browser();
    await login(browser, c.url);
    const before = await otel.total('express_oauth_login.refreshes', { [A.outcome]: 'transient_failure' });
    hostile.set({ tokenDelayMs: 5000 }); // slower than httpTimeout (2000 ms)
    const res = await browser.request(`${c.url}/api/me`, json);
    hostile.reset();
    expect(res.status).toBe(504);
    await new Promise((r) => setTimeout(r, 20));
    expect(await otel.total('express_oauth_login.refreshes', { [A.provider]: hostile.issuer, [A.outcome]: 'transient_failure' })).toBe(before + 1);
    const timedOut = otel.spans().filter((s) => s.attributes[A.endpoint] === 'token' && s.attributes['error.type'] === 'idp_timeout');
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]!.attributes['http.response.status_code']).toBeUndefined();
    expect(await otel.total('express_oauth_login.idp.request.duration', { [A.endpoint]: 'token', 'error.type': 'idp_timeout' })).toBe(1);
    // The next request refreshes.
    expect((await browser.request(`${c.url}/api/me`, json)).status).toBe(200);
    expect(await otel.total('express_oauth_login.refreshes', { [A.provider]: hostile.issuer, [A.outcome]: 'refreshed' })).toBeGreaterThanOrEqual(1);
    expect(await otel.total('express_oauth_login.session_store.duration', { [A.storeType]: 'memory', [A.storeOperation]: 'get' })).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('silent login (attemptSilentLogin, MemoryStore app of its own)', () => {
  let app: { app: TestServer; close(): Promise<void> };
  beforeAll(async () => {
    app = await startAppWithIdp({}, {
      routes: (express) => {
        express.get('/maybe', attemptSilentLogin(), (req: Request, res) => {
          res.json({ sub: req.session.oauth?.user?.sub ?? null });
        });
      },
    });
  });
  afterAll(() => app.close());

  test('a prompt=none that needs the user is counted idp_error of kind silent; a silent login that works, ok', async () => {
    const kind = { 'express_oauth_login.login.kind': 'silent' };
    const browser = new Browser();
    const hops = await browser.navigate(`${app.app.url}/maybe`);
    expect(JSON.parse(hops.at(-1)!.body)).toEqual({ sub: null });
    expect(await otel.total('express_oauth_login.logins', { ...kind, [A.outcome]: 'idp_error' })).toBe(1);

    const withIdpSession = new Browser();
    await login(withIdpSession, app.app.url, { user: 'bob' });
    withIdpSession.cookies.splice(withIdpSession.cookies.findIndex((c) => c.name === 'app.sid'), 1);
    const silent = await withIdpSession.navigate(`${app.app.url}/maybe`);
    expect(JSON.parse(silent.at(-1)!.body)).toEqual({ sub: 'bob' });
    expect(await otel.total('express_oauth_login.logins', { ...kind, [A.outcome]: 'ok' })).toBe(1);
    expect(await otel.total('express_oauth_login.login.duration', { ...kind, [A.outcome]: 'ok' })).toBe(1);
  }, 30_000);
});

test('telemetry.userHashKey is checked at start-up: too short, or an unknown telemetry option, is a ConfigError', () => {
  const base = { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com' };
  expect(() => oauthLogin({ ...base, telemetry: { userHashKey: 'short' } })).toThrow(/telemetry\.userHashKey must be at least 32 characters/);
  expect(() => oauthLogin({ ...base, telemetry: { subHash: true } as never })).toThrow(ConfigError);
  expect(() => oauthLogin({ ...base, telemetry: { userHashKey: HASH_KEY } })).not.toThrow();
});

test('auditLogger writes through the logger it is given, on the logger itself, and falls back to info', () => {
  const calls: Array<{ level: string; self: unknown; obj: unknown; msg: unknown }> = [];
  const logger = {
    info(this: unknown, obj: object, msg?: string) {
      calls.push({ level: 'info', self: this, obj, msg });
    },
  };
  const listeners = auditLogger(logger);
  listeners.error({ type: 'error', schemaVersion: 1, code: 'idp_timeout', status: 504, message: 'slow', path: '/api/me' });
  expect(calls).toEqual([
    {
      level: 'info',
      self: logger,
      obj: { audit: 'express-oauth-login', type: 'error', schemaVersion: 1, code: 'idp_timeout', status: 504, message: 'slow', path: '/api/me' },
      msg: 'express-oauth-login error',
    },
  ]);
});

test('a Redis outage: the failed store operations are counted and timed with error.type, and the request is a 503', async () => {
  const browser = new Browser();
  await signIn(browser);
  const failuresBefore = await otel.total('express_oauth_login.session_store.failures', { [A.storeOperation]: 'get' });
  await cluster.redis.stop();
  try {
    const res = await browser.request(`${cluster.a.url}/api/me`, json);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error).toBe('session_store_unavailable');
    const failures = (await otel.points()).filter((p) => p.name === 'express_oauth_login.session_store.failures' && p.attributes[A.storeOperation] === 'get');
    expect(failures.reduce((n, p) => n + p.value, 0)).toBe(failuresBefore + 1);
    expect(failures.every((p) => p.attributes[A.storeType] === 'redis' && ['timeout', 'unavailable'].includes(p.attributes['error.type'] as string))).toBe(true);
    const timed = (await otel.points()).filter((p) => p.name === 'express_oauth_login.session_store.duration' && p.attributes['error.type'] !== undefined);
    expect(timed.reduce((n, p) => n + p.value, 0)).toBeGreaterThanOrEqual(1);
  } finally {
    await cluster.redis.start();
  }
}, 30_000);

test('the audit trail: every kind of event as one pino JSON line with schemaVersion, warn for 4xx errors', () => {
  const types = new Set(auditLines.map((l) => l.type));
  expect(types).toEqual(new Set(['login', 'refresh', 'logout', 'backchannelLogout', 'error']));
  for (const line of auditLines) {
    expect(line).toMatchObject({ audit: 'express-oauth-login', schemaVersion: 1, msg: `express-oauth-login ${line.type}`, time: expect.any(Number) });
  }
  expect(auditLines.find((l) => l.type === 'login')).toMatchObject({ level: 30, sub: 'alice', stepUp: false, silent: false, sid: expect.any(String) });
  expect(auditLines.find((l) => l.type === 'error' && l.code === 'state_unknown')).toMatchObject({ level: 40, status: 400, path: '/callback' });
  expect(auditLines.find((l) => l.type === 'error' && l.code === 'idp_timeout')).toMatchObject({ level: 50, status: 504, path: '/api/me' });
  expect(auditLines.find((l) => l.type === 'backchannelLogout')).toMatchObject({ level: 30, sub: 'bob', sessions: 1 });
});

test('nothing exported or logged holds a token, code, verifier, session id or e-mail; no attribute holds a sub or IdP sid', async () => {
  expect(secrets.size).toBeGreaterThan(20);
  const points = await otel.points();
  const spans = otel.spans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events, links: s.links }));
  const exported = JSON.stringify({ points, spans });
  const logged = JSON.stringify(auditLines);
  for (const secret of secrets) {
    expect(exported).not.toContain(secret);
    expect(logged).not.toContain(secret);
  }
  for (const value of personal) expect(exported).not.toContain(value);
  // The e-mail addresses never reach the audit trail either (the sub and IdP sid do: that is what it is for).
  expect(logged).not.toMatch(/@example\.com/);
  // Every attribute value is one of a few known shapes: no free text.
  const values = [...points.map((p) => p.attributes), ...spans.map((s) => s.attributes)].flatMap((a) => Object.entries(a));
  expect(values.length).toBeGreaterThan(50);
  for (const [name, value] of values) {
    expect(name).toMatch(/^(express_oauth_login\.[a-z_.]+|http\.request\.method|http\.response\.status_code|server\.address|server\.port|url\.full|error\.type|user\.hash)$/);
    if (name === 'url.full') expect(String(value)).not.toContain('?');
  }
});
