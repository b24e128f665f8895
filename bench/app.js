/**
 * One benchmarked app, run as a child process so that its CPU time can be measured alone (process.cpuUsage on
 * request over IPC). Two variants of the same Express app, with the same session store:
 *
 * - `baseline`: express-session with hand-written /login and /callback that do only the session work of a login
 *   (store a pending state, regenerate the session, store a user object of realistic size, save), and a /me route
 *   that reads the session by hand. No OAuth work at all: the IdP's /authorize still sits between /login and
 *   /callback so both variants make the same HTTP hops, but the baseline never calls /token or checks a signature.
 * - `ours`: the same app with oauthLogin() and requireAuth() from ../dist, and our session setup
 *   (oauthSession() when the package exports it; until then express-session with connect-redis without touch).
 *
 * Configuration comes in BENCH_APP (JSON): { variant, store: 'memory' | 'redis', issuer, redisUrl, clientId, clientSecret }.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import * as lib from '../dist/index.js';
import { mountEoc, mountOpenidClient, mountPassport } from './peers.js';

const opts = JSON.parse(process.env.BENCH_APP ?? '{}');
const SECRET = 'bench-session-secret-0123456789abcdef';
export const COOKIE = 'app.sid';

const server = http.createServer();
server.keepAliveTimeout = 60_000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const baseURL = `http://127.0.0.1:${port}`;
const redis = opts.store === 'redis' ? new Redis(opts.redisUrl, { enableAutoPipelining: false }) : undefined;
const cookie = { httpOnly: true, sameSite: 'lax', maxAge: 24 * 3600 * 1000 };

function sessionMiddleware() {
  if (opts.variant === 'eoc') return { how: '', mw: undefined };
  if (opts.variant === 'ours' && typeof lib.oauthSession === 'function') {
    return { how: `oauthSession(${redis ? '{ redis }' : ''})`, mw: lib.oauthSession({ secret: SECRET, baseURL, ...(redis && { redis }), cookie: { name: COOKIE } }) };
  }
  const common = { name: COOKIE, secret: SECRET, resave: false, saveUninitialized: false, cookie };
  if (!redis) return { how: 'express-session + MemoryStore', mw: session(common) };
  // Ours does without express-session's per-request touch (an EXPIRE on every request): requireAuth records
  // activity in the session at most once a minute, which rewrites it with a fresh TTL.
  const store = new RedisStore({ client: redis, ...(opts.variant === 'ours' && { disableTouch: true }) });
  return { how: `express-session + connect-redis${opts.variant === 'ours' ? ' (disableTouch)' : ''}`, mw: session({ ...common, store }) };
}

const app = express();
app.disable('x-powered-by');
const { how, mw } = sessionMiddleware();
if (mw) app.use(mw);
let peer = '';

let users = 0;
const b64 = (n) => randomBytes(n).toString('base64url');

if (opts.variant === 'openid-client') {
  peer = await mountOpenidClient(app, opts, baseURL);
} else if (opts.variant === 'passport') {
  peer = await mountPassport(app, opts, baseURL);
} else if (opts.variant === 'eoc') {
  peer = await mountEoc(app, opts, baseURL, SECRET);
} else if (opts.variant === 'ours') {
  app.use(
    lib.oauthLogin({
      issuer: opts.issuer,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      baseURL,
      allowInsecureRequests: true,
      ...(opts.refreshSkew !== undefined && { refreshSkew: opts.refreshSkew }),
    }),
  );
  app.get('/me', lib.requireAuth(), (req, res) => {
    res.json({ sub: req.user.sub, name: req.user.claims.name });
  });
  if (opts.seed) mountSeed(app);
  // The refresh storm (storm.js) tells access tokens apart by a fingerprint: enough to compare, nothing to replay.
  app.get('/me/at', lib.requireAuth(), (req, res) => {
    res.json({ at: createHash('sha256').update(req.user.accessToken).digest('base64url').slice(0, 12) });
  });
} else {
  app.get('/login', (req, res) => {
    const state = b64(32);
    const nonce = b64(32);
    const codeVerifier = b64(32);
    const returnTo = typeof req.query.returnTo === 'string' && /^\/[^/\\]/.test(req.query.returnTo) ? req.query.returnTo : '/';
    req.session.pending = { ...req.session.pending, [state]: { nonce, codeVerifier, returnTo, createdAt: Date.now() } };
    const url = new URL(`${opts.issuer}/authorize`);
    url.search = new URLSearchParams({ client_id: opts.clientId, redirect_uri: `${baseURL}/callback`, state, nonce }).toString();
    res.set('Cache-Control', 'no-store');
    res.redirect(302, url.href);
  });
  app.get('/callback', (req, res, next) => {
    const state = String(req.query.state ?? '');
    const pending = req.session.pending?.[state];
    if (!pending) {
      res.status(400).send('unknown state');
      return;
    }
    delete req.session.pending[state];
    req.session.regenerate((err) => {
      if (err) return next(err);
      // A user object of the size ours stores: profile claims and the three tokens.
      const n = ++users;
      const now = Math.floor(Date.now() / 1000);
      req.session.user = {
        sub: `bench-user-${n}`,
        claims: {
          name: `Bench User ${n}`,
          given_name: 'Bench',
          family_name: `User ${n}`,
          email: `bench.user.${n}@example.com`,
          email_verified: true,
          groups: ['staff', 'engineering'],
          sid: b64(12),
          auth_time: now,
          iss: opts.issuer,
          sub: `bench-user-${n}`,
        },
        tokens: { accessToken: b64(32), tokenType: 'Bearer', expiresAt: now + 3600, refreshToken: b64(32), idToken: b64(630), scope: 'openid profile email' },
        loginAt: now,
        seenAt: now,
      };
      req.session.save((saveErr) => {
        if (saveErr) return next(saveErr);
        res.set('Cache-Control', 'no-store');
        res.redirect(302, pending.returnTo);
      });
    });
  });
  app.get('/me', (req, res) => {
    const user = req.session.user;
    if (!user) {
      res.set('Cache-Control', 'no-store');
      res.redirect(302, `/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    res.json({ sub: user.sub, name: user.claims.name });
  });
}

/**
 * bench/scale.js: GET /seed/capture (logged in) keeps this session's contents as a template; each GET /seed then
 * makes a new session with the template's contents (user id and token strings fresh, of the same lengths), written
 * through the app's own session store when the response ends.
 */
function mountSeed(target) {
  let template;
  let n = 0;
  const fresh = (v) => (typeof v === 'string' && v.length >= 16 ? b64(Math.ceil((v.length * 3) / 4)).slice(0, v.length) : v);
  target.get('/seed/capture', lib.requireAuth(), (req, res) => {
    template = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(req.session).filter(([k]) => k !== 'cookie'))));
    res.json({ bytes: JSON.stringify(template).length });
  });
  target.get('/seed', (req, res) => {
    const copy = structuredClone(template);
    const user = copy.oauth?.user;
    if (user) {
      n++;
      user.sub = `${user.sub}-${n}`;
      for (const k of Object.keys(user.tokens)) user.tokens[k] = fresh(user.tokens[k]);
      if (user.logoutToken) user.logoutToken = fresh(user.logoutToken);
    }
    Object.assign(req.session, copy);
    res.status(204).end();
  });
}

server.on('request', app);
process.on('message', (msg) => {
  if (msg?.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage(), mem: process.memoryUsage().rss });
  if (msg?.cmd === 'heap') {
    globalThis.gc?.();
    process.send?.({ heap: process.memoryUsage().heapUsed });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ port, baseURL, session: [peer, how].filter(Boolean).join(', ') });
