// @ts-check
/**
 * The example app: a small Express app with "Log in with your identity provider", built on express-oauth-login.
 *
 *   npm install && npm start      # then open the URL it prints
 *
 * By default it also starts an embedded demo identity provider (example-app/idp.js, users alice and bob) and keeps
 * sessions in memory. Environment variables switch it to a real IdP and to Redis:
 *
 *   PORT (3000), IDP_PORT (3001), HOST (127.0.0.1)
 *   IDP=github       log in with "GitHub" instead: a GitHub stand-in (example-app/github.js) on IDP_PORT, plain
 *                    OAuth 2.0 through providers.github() (with OAUTH_CLIENT_ID/SECRET and no OAUTH_ISSUER: real GitHub)
 *   OAUTH_ISSUER, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_BASE_URL, OAUTH_SCOPE   a real IdP (no embedded one)
 *   REDIS_URL        keep sessions in Redis, e.g. redis://127.0.0.1:6379
 *   SESSION_SECRET   signs the session cookie (a random one per start by default: restarts log everyone out)
 *   METRICS=1        OpenTelemetry: GET /metrics (Prometheus) and a "what the middleware recorded" panel
 *
 * Read it top to bottom: sessions, login routes, pages, the protected API, the error page, start-up.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import {
  OAuthLoginError,
  endAllSessions,
  endSession,
  isSessionFormRequest,
  listSessions,
  logoutUrl,
  oauthLogin,
  oauthSession,
  providers,
  requireAuth,
  sessionFormToken,
} from 'express-oauth-login';
import { GITHUB_USERS, startGithubStandIn } from './github.js';
import { DEMO_USERS, startIdp } from './idp.js';
import { errorPage, homePage, profilePage, sessionsPage } from './views.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {object} ExampleAppOptions
 * @property {number} [port] the app's port; 0 picks a free one. Default 3000.
 * @property {number} [idpPort] the embedded IdP's port; 0 picks a free one. Default 3001.
 * @property {string} [host] the interface both listen on. Default 127.0.0.1 (loopback only).
 * @property {string} [issuer] a real IdP's issuer URL: then no embedded IdP starts and clientId, clientSecret are needed.
 * @property {'github'} [idp] log in with GitHub: the GitHub stand-in (example-app/github.js) on idpPort, or real
 *   GitHub when clientId and clientSecret are given.
 * @property {string} [clientId]
 * @property {string} [clientSecret]
 * @property {string} [baseURL] the app's external URL. Default http://{host}:{port}.
 * @property {string} [scope] OAuth scopes. Default: the middleware's default, `openid profile email`.
 * @property {string} [redisUrl] keep sessions in Redis instead of memory.
 * @property {string} [sessionSecret] signs the session cookie. Default: random per start.
 * @property {number} [accessTokenTTL] embedded IdP only: access token lifetime in seconds. Default 300.
 * @property {boolean} [quiet] do not log IdP events.
 * @property {boolean} [metrics] register OpenTelemetry (example-app/telemetry.js): GET /metrics and the panel.
 *
 * @typedef {object} ExampleApp
 * @property {string} url the app's base URL
 * @property {string} issuer the IdP's issuer URL
 * @property {boolean} embeddedIdp true when the demo IdP (or the GitHub stand-in) runs in this process
 * @property {boolean} github true when the app logs in with GitHub (providers.github())
 * @property {string} sessionCookie the session cookie's name
 * @property {boolean} metrics true when OpenTelemetry is registered (GET /metrics)
 * @property {() => Promise<void>} close stops the app (and the embedded IdP, and the Redis connection)
 */

/** The session cookie's own name: cookies on 127.0.0.1 are shared by every port, including the IdP's. */
const SESSION_COOKIE = 'example.sid';

/**
 * Starts the example app (and, unless `issuer` is given, the embedded demo IdP).
 * @param {ExampleAppOptions} [options]
 * @returns {Promise<ExampleApp>}
 */
export async function startExampleApp(options = {}) {
  const host = options.host ?? '127.0.0.1';
  // Listen first: with port 0 the URL (and so the redirect URI to register at the IdP) is only known afterwards.
  const server = http.createServer();
  await listen(server, options.port ?? 3000, host);
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const baseURL = options.baseURL ?? `http://${host}:${port}`;
  try {
    return await build(server, baseURL, options);
  } catch (err) {
    await close(server);
    throw err;
  }
}

/**
 * Builds the app on a listening server.
 * @param {http.Server} server
 * @param {string} baseURL
 * @param {ExampleAppOptions} options
 * @returns {Promise<ExampleApp>}
 */
async function build(server, baseURL, options) {
  const host = options.host ?? '127.0.0.1';

  // 1. The identity provider: a real one from the options, or the embedded demo IdP.
  /** @type {Awaited<ReturnType<typeof startIdp>> | undefined} */
  let idp;
  let { issuer, clientId, clientSecret } = options;
  // IDP=github: plain OAuth 2.0 with providers.github(), at the stand-in unless real credentials are given.
  const github = options.idp === 'github';
  /** @type {Awaited<ReturnType<typeof startGithubStandIn>> | undefined} */
  let githubStandIn;
  if (github && !(clientId && clientSecret)) {
    clientId = 'example-app';
    clientSecret = randomBytes(32).toString('base64url');
    githubStandIn = await startGithubStandIn({ port: options.idpPort ?? 3001, host, clientId, clientSecret, redirectUris: [`${baseURL}/callback`] });
  }
  if (github) issuer = githubStandIn?.url ?? 'https://github.com';
  if (!issuer) {
    clientId = 'example-app';
    clientSecret = randomBytes(32).toString('base64url');
    idp = await startIdp({
      port: options.idpPort ?? 3001,
      host,
      accessTokenTTL: options.accessTokenTTL ?? 300,
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          client_name: 'the example app',
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'refresh_token'],
          redirect_uris: [`${baseURL}/callback`],
          // Where the IdP sends the browser back after logout: the app's logout route checks the `state` it sent,
          // then goes home.
          post_logout_redirect_uris: [`${baseURL}/logout`],
          // The IdP tells the app when a user signs out elsewhere (OpenID Connect Back-Channel Logout 1.0).
          backchannel_logout_uri: `${baseURL}/backchannel-logout`,
          backchannel_logout_session_required: true,
        },
      ],
      onEvent: (event, detail) => {
        const error = /** @type {{ error?: Error } | undefined} */ (detail)?.error;
        if (!options.quiet && event.endsWith('.error')) console.warn(`demo IdP: ${event}: ${error?.message ?? 'failed'}`);
      },
    });
    issuer = idp.issuer;
  }

  // METRICS=1: OpenTelemetry registered before the middleware is used; express-oauth-login needs no option for it.
  const telemetry = options.metrics ? (await import('./telemetry.js')).startTelemetry() : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  if (idp || githubStandIn) app.use(canonicalHost(baseURL));
  app.use('/assets', express.static(path.join(here, 'public'), { maxAge: '1h' }));
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  // 2. Sessions: oauthSession() is express-session set up for this middleware: an opaque HttpOnly, SameSite=Lax
  //    cookie, and the tokens kept in the store (a bounded in-process store, or Redis with REDIS_URL), sealed at
  //    rest and written with compare-and-set, so a logout stays a logout whatever requests are still running.
  // 3. The login routes: GET /login, GET /callback, GET|POST /logout, POST /backchannel-logout. Logout is
  //    CSRF-safe: the pages log out with a POST form or the one-click link logoutUrl(req); a request from another
  //    site gets a confirmation page (GET) or a 403 (POST), and ends nothing.
  //    A missing clientId or clientSecret falls back to OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET, or fails with a message
  //    that names them.
  let sessions;
  let login;
  try {
    sessions = oauthSession({
      secret: options.sessionSecret ?? randomBytes(32).toString('hex'),
      baseURL,
      cookie: { name: SESSION_COOKIE },
      ...(options.redisUrl && { redis: options.redisUrl, prefix: 'example-app:' }),
    });
    login = oauthLogin({
      // GitHub: endpoints, scope and the /user profile from the preset (OAuth 2.0 only, so no back-channel logout).
      ...(github ? providers.github(githubStandIn && { enterpriseUrl: githubStandIn.url }) : { issuer, backchannelLogout: true }),
      clientId,
      clientSecret,
      baseURL,
      ...(options.scope && { scope: options.scope }),
      // With an OpenID Provider, POST /backchannel-logout: when the user signs out at the IdP (or another app),
      // their session here ends too (set above).
      // "Your sessions" (7.): every login is recorded, so the user can list and end their sessions.
      sessionControl: true,
      // Failed sign-ins (a bad callback, a refused login) go to this app's own error page (6.) like every other
      // error, instead of the middleware's built-in page.
      errorPage: false,
      // Only the embedded demo IdP speaks plain http (on loopback); a real IdP must use https.
      allowInsecureRequests: URL.canParse(issuer) && new URL(issuer).protocol === 'http:',
    });
  } catch (err) {
    await idp?.close();
    await githubStandIn?.close();
    await sessions?.close();
    await telemetry?.close();
    throw err;
  }
  app.use(sessions);
  app.use(login);

  // 4. Pages. requireAuth() lets logged-in users through with req.user set, and sends others to log in.
  //    With METRICS=1 they also show what the middleware recorded, and GET /metrics serves it to Prometheus
  //    (in production, keep /metrics off the public internet).
  const demo = idp
    ? { issuer: idp.issuer, users: Object.keys(DEMO_USERS) }
    : githubStandIn && { issuer: githubStandIn.url, users: Object.keys(GITHUB_USERS), github: true };
  app.get('/', async (_req, res) => {
    const recorded = await telemetry?.recorded().catch(() => undefined);
    if (recorded) res.set('Cache-Control', 'no-store'); // live numbers
    res.type('html').send(homePage({ idp: demo, ...(recorded && { recorded }) }));
  });
  app.get('/profile', requireAuth(), async (req, res) => {
    const recorded = await telemetry?.recorded().catch(() => undefined);
    res.set('Cache-Control', 'no-store'); // personal data: not for the browser's back/forward cache
    res.type('html').send(profilePage(/** @type {Express.User} */ (req.user), logoutUrl(req), recorded));
  });
  if (telemetry) app.get('/metrics', (req, res) => telemetry.metricsHandler(req, res));

  // 5. A protected JSON API. The browser calls it with its session cookie; the server calls the IdP's UserInfo
  //    endpoint (any API would do) with the user's access token, which never leaves the server.
  // From the IdP's discovery document, on first use; GitHub has none: its /user API plays the part.
  let userinfoEndpoint = github ? `${githubStandIn ? `${githubStandIn.url}/api/v3` : 'https://api.github.com'}/user` : '';
  app.get('/api/userinfo', requireAuth({ onUnauthenticated: '401' }), async (req, res) => {
    const user = /** @type {Express.User} */ (req.user);
    res.set('Cache-Control', 'no-store');
    try {
      userinfoEndpoint ||= await discoverUserinfoEndpoint(/** @type {string} */ (issuer));
      const response = await fetch(userinfoEndpoint, {
        headers: { Authorization: `Bearer ${user.accessToken}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) {
        res.status(502).json({ error: 'upstream_error', message: `The UserInfo endpoint answered HTTP ${response.status}.` });
        return;
      }
      res.json({ calledAt: new Date().toISOString(), accessTokenExpiresAt: user.expiresAt ?? null, userinfo: await response.json() });
    } catch {
      res.status(502).json({ error: 'upstream_unavailable', message: 'The UserInfo endpoint could not be reached. Try again.' });
    }
  });

  // 7. "Your sessions": the user's sessions on every browser, each can be ended, or all the others at once. The
  //    forms carry sessionFormToken(req) and the POST checks it with the request's origin (isSessionFormRequest):
  //    another site cannot make the browser end a session.
  app.get('/sessions', requireAuth(), async (req, res, next) => {
    try {
      res.set('Cache-Control', 'no-store');
      res.type('html').send(sessionsPage(await listSessions(req), /** @type {string} */ (sessionFormToken(req))));
    } catch (err) {
      next(err);
    }
  });
  app.post('/sessions/end', express.urlencoded({ extended: false, limit: '2kb' }), requireAuth(), async (req, res, next) => {
    try {
      res.set('Cache-Control', 'no-store');
      const body = /** @type {{ token?: unknown, handle?: unknown, all?: unknown }} */ (req.body ?? {});
      if (!isSessionFormRequest(req, body.token)) {
        res.status(403).type('html').send(errorPage({ status: 403, message: 'This request did not come from this app, so nothing was ended.', retry: false }));
        return;
      }
      const current = (await listSessions(req)).find((s) => s.current);
      if (body.all === 'others') await endAllSessions(req, { exceptCurrent: true });
      else if (typeof body.handle === 'string') await endSession(req, body.handle);
      // Ending this browser's own session signs it out: back home then.
      res.redirect(303, typeof body.handle === 'string' && body.handle === current?.handle ? '/' : '/sessions');
    } catch (err) {
      next(err);
    }
  });

  // 6. The error page: express-oauth-login errors carry a status, a stable code and a message safe to show.
  /** @type {express.ErrorRequestHandler} */
  const onError = (err, req, res, _next) => {
    const known = err instanceof OAuthLoginError;
    const status = known ? err.status : 500;
    if (!known) console.error(err);
    const message = known ? err.message : 'An unexpected error happened. Please try again.';
    res.status(status).set('Cache-Control', 'no-store');
    if (req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json') {
      res.json({ error: known ? err.code : 'internal_error', message });
      return;
    }
    const signOut = known && err.code.startsWith('logout_');
    res.type('html').send(errorPage({ status, code: known ? err.code : undefined, message, retry: known && status < 500 && !signOut, signOut }));
  };
  app.use(onError);

  server.on('request', app);
  return {
    url: baseURL,
    issuer,
    embeddedIdp: Boolean(idp || githubStandIn),
    github,
    sessionCookie: SESSION_COOKIE,
    metrics: Boolean(telemetry),
    close: async () => {
      await close(server);
      await idp?.close();
      await githubStandIn?.close();
      await sessions.close();
      await telemetry?.close();
    },
  };
}

/**
 * The IdP's UserInfo endpoint, from its OpenID Connect discovery document.
 * @param {string} issuer
 * @returns {Promise<string>}
 */
async function discoverUserinfoEndpoint(issuer) {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const metadata = /** @type {{ userinfo_endpoint?: unknown }} */ (await res.json());
  if (!res.ok || typeof metadata.userinfo_endpoint !== 'string') throw new Error(`${url} names no userinfo_endpoint`);
  return metadata.userinfo_endpoint;
}

/**
 * Response headers for every page: no inline script, no framing, no sniffing.
 * @param {express.Request} _req
 * @param {express.Response} res
 * @param {express.NextFunction} next
 */
function securityHeaders(_req, res, next) {
  res.set({
    'Content-Security-Policy': "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
  });
  next();
}

/**
 * Sends `localhost:3000` to `127.0.0.1:3000` (or whatever baseURL says). The session cookie belongs to one host
 * name: starting a login on one and returning to the redirect URI on the other loses it (a "state" error).
 * @param {string} baseURL
 * @returns {express.RequestHandler}
 */
function canonicalHost(baseURL) {
  const { host } = new URL(baseURL);
  return (req, res, next) => {
    if (req.headers.host === host || (req.method !== 'GET' && req.method !== 'HEAD')) {
      next();
      return;
    }
    res.redirect(302, `${baseURL}${req.originalUrl}`);
  };
}

/**
 * @param {http.Server} server
 * @param {number} port
 * @param {string} host
 * @returns {Promise<void>}
 */
function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** @param {http.Server} server @returns {Promise<void>} */
function close(server) {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * Reads the options from environment variables (see the top of this file).
 * @param {NodeJS.ProcessEnv} env
 * @returns {ExampleAppOptions}
 */
export function optionsFromEnv(env) {
  const port = (/** @type {string} */ name, /** @type {number} */ fallback) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number, got "${env[name]}"`);
    return value;
  };
  /** @type {ExampleAppOptions} */
  const options = { port: port('PORT', 3000), idpPort: port('IDP_PORT', 3001) };
  if (env.HOST) options.host = env.HOST;
  if (env.IDP !== undefined && env.IDP !== '') {
    if (env.IDP !== 'github') throw new Error(`IDP must be "github" (or unset for the demo OpenID Provider), got "${env.IDP}"`);
    options.idp = 'github';
    if (env.OAUTH_CLIENT_ID) options.clientId = env.OAUTH_CLIENT_ID;
    if (env.OAUTH_CLIENT_SECRET) options.clientSecret = env.OAUTH_CLIENT_SECRET;
  }
  if (env.OAUTH_ISSUER) {
    options.issuer = env.OAUTH_ISSUER;
    if (env.OAUTH_CLIENT_ID) options.clientId = env.OAUTH_CLIENT_ID;
    if (env.OAUTH_CLIENT_SECRET) options.clientSecret = env.OAUTH_CLIENT_SECRET;
  }
  if (env.OAUTH_BASE_URL) options.baseURL = env.OAUTH_BASE_URL;
  if (env.OAUTH_SCOPE) options.scope = env.OAUTH_SCOPE;
  if (env.REDIS_URL) options.redisUrl = env.REDIS_URL;
  if (env.SESSION_SECRET) options.sessionSecret = env.SESSION_SECRET;
  if (env.METRICS === '1' || env.METRICS === 'true') options.metrics = true;
  return options;
}

/** `node example-app/server.js` (what `npm start` runs): start from the environment and print the URL. */
async function main() {
  const options = optionsFromEnv(process.env);
  let app;
  try {
    app = await startExampleApp(options);
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException & { port?: number }} */ (err);
    if (e.code === 'EADDRINUSE') {
      console.error(`Port ${e.port} is already in use: stop the other program, or start with PORT=4000 IDP_PORT=4001 npm start`);
    } else {
      console.error(e.message ?? e);
    }
    process.exitCode = 1;
    return;
  }
  console.log(`\n  Example app:  ${app.url}   <- open this in your browser`);
  if (app.github) {
    const where = app.embeddedIdp ? `a GitHub stand-in at ${app.issuer} (accounts: ${Object.keys(GITHUB_USERS).join(', ')})` : 'GitHub';
    console.log(`  IdP:          ${where}   (plain OAuth 2.0, providers.github())`);
  } else if (app.embeddedIdp) {
    const users = Object.keys(DEMO_USERS).map((u) => `${u} / ${u}-password`).join(', ');
    console.log(`  Demo IdP:     ${app.issuer}   (users: ${users})`);
  } else {
    console.log(`  IdP:          ${app.issuer}   (register the redirect URI ${app.url}/callback there)`);
  }
  console.log(`  Sessions:     ${options.redisUrl ? `Redis at ${redactUrl(options.redisUrl)}` : 'in memory (set REDIS_URL to use Redis)'}`);
  console.log(`  Metrics:      ${app.metrics ? `${app.url}/metrics (OpenTelemetry, Prometheus format)` : 'off (METRICS=1 npm start serves /metrics)'}`);
  console.log('\n  Press Ctrl+C to stop.\n');
  const stop = () => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** A URL with its password hidden, for logs. @param {string} url */
function redactUrl(url) {
  if (!URL.canParse(url)) return '(unparsable REDIS_URL)';
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.href;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
