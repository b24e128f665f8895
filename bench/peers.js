/**
 * The peers a user would pick instead of express-oauth-login, each mounted the way its own documentation shows, on
 * the same Express app shape as bench/app.js (GET /login?returnTo=, GET /callback, GET /me answering JSON or
 * bouncing to /login). Each one talks to the same fast IdP and, where it has a server-side session, to the same
 * Redis through express-session + connect-redis 8.1 (default options, so with touch) over one ioredis client.
 *
 * - `openid-client`: a straightforward app on openid-client 6 + express-session: PKCE, state and nonce in the
 *   session, authorizationCodeGrant at the callback, regenerate, store the user, redirect.
 * - `passport`: passport 0.7 + openid-client's own passport strategy (openid-client/passport), serializeUser
 *   keeping the whole user in the session.
 * - `eoc`: express-openid-connect 3.4 with its encrypted cookie session (no store), the authorization code flow.
 *
 * None of them checks the ID token signature (openid-client 6 leaves it to the caller for a token endpoint
 * response, as OIDC Core §3.1.3.7 allows over TLS); ours does.
 */
import * as client from 'openid-client';

/** What every contestant's /me answers: the same two fields. */
const me = (user) => ({ sub: user.sub, name: user.name ?? user.claims?.name });
const loginBounce = (req, res) => {
  res.set('Cache-Control', 'no-store');
  res.redirect(302, `/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
};
const safePath = (v) => (typeof v === 'string' && /^\/[^/\\]/.test(v) ? v : '/');

async function discover(opts) {
  // The IdP announces client_secret_basic only (openid-client would default to client_secret_post).
  return client.discovery(new URL(opts.issuer), opts.clientId, undefined, client.ClientSecretBasic(opts.clientSecret), { execute: [client.allowInsecureRequests] });
}

function storedUser(tokens) {
  const claims = tokens.claims();
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: claims.sub,
    claims,
    tokens: {
      accessToken: tokens.access_token,
      tokenType: tokens.token_type,
      expiresAt: now + (tokens.expires_in ?? 0),
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      scope: tokens.scope,
    },
    loginAt: now,
    seenAt: now,
  };
}

/** openid-client 6 + express-session, written the way its README's examples go. */
export async function mountOpenidClient(app, opts, baseURL) {
  const config = await discover(opts);
  const redirectUri = `${baseURL}/callback`;
  app.get('/login', async (req, res, next) => {
    try {
      const codeVerifier = client.randomPKCECodeVerifier();
      const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
      const state = client.randomState();
      const nonce = client.randomNonce();
      req.session.login = { codeVerifier, state, nonce, returnTo: safePath(req.query.returnTo) };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid profile email',
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      res.set('Cache-Control', 'no-store');
      res.redirect(302, url.href);
    } catch (err) {
      next(err);
    }
  });
  app.get('/callback', async (req, res, next) => {
    try {
      const pending = req.session.login;
      if (!pending) {
        res.status(400).send('no login in progress');
        return;
      }
      delete req.session.login;
      const tokens = await client.authorizationCodeGrant(config, new URL(req.originalUrl, baseURL), {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
      });
      await new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      req.session.user = storedUser(tokens);
      await new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
      res.set('Cache-Control', 'no-store');
      res.redirect(302, pending.returnTo);
    } catch (err) {
      next(err);
    }
  });
  app.get('/me', (req, res) => (req.session.user ? res.json(me(req.session.user)) : loginBounce(req, res)));
  return 'openid-client 6 + express-session';
}

/** passport 0.7 with openid-client's passport strategy. */
export async function mountPassport(app, opts, baseURL) {
  const { default: passport } = await import('passport');
  const { Strategy } = await import('openid-client/passport');
  const config = await discover(opts);
  passport.use(
    'oidc',
    new Strategy({ config, scope: 'openid profile email', callbackURL: `${baseURL}/callback` }, (tokens, verified) => verified(null, storedUser(tokens))),
  );
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));
  app.use(passport.initialize());
  app.use(passport.session());
  app.get(
    '/login',
    (req, _res, next) => {
      req.session.returnTo = safePath(req.query.returnTo);
      next();
    },
    passport.authenticate('oidc'),
  );
  // passport regenerates the session at req.login() and keeps nothing else, so returnTo comes back as keepSessionInfo.
  app.get('/callback', passport.authenticate('oidc', { failureRedirect: '/login-failed', keepSessionInfo: true }), (req, res) => {
    const returnTo = req.session.returnTo ?? '/';
    delete req.session.returnTo;
    res.set('Cache-Control', 'no-store');
    res.redirect(302, returnTo);
  });
  app.get('/me', (req, res) => (req.isAuthenticated() ? res.json(me(req.user)) : loginBounce(req, res)));
  return 'passport 0.7 + openid-client/passport + express-session';
}

/** express-openid-connect 3.4: encrypted cookie session, its own callback route, our /login for returnTo. */
export async function mountEoc(app, opts, baseURL, secret) {
  const eoc = await import('express-openid-connect');
  const { auth, requiresAuth } = eoc.default ?? eoc;
  app.use(
    auth({
      issuerBaseURL: opts.issuer,
      baseURL,
      clientID: opts.clientId,
      clientSecret: opts.clientSecret,
      secret,
      authRequired: false,
      idpLogout: false,
      authorizationParams: { response_type: 'code', scope: 'openid profile email' },
      routes: { login: false },
    }),
  );
  app.get('/login', (req, res) => res.oidc.login({ returnTo: safePath(req.query.returnTo) }));
  // requiresAuth() sends a browser straight to the IdP (its bounce is a login start).
  app.get('/me', requiresAuth(), (req, res) => res.json(me(req.oidc.user)));
  return 'express-openid-connect 3.4 (encrypted cookie session)';
}
