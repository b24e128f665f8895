// @ts-check
/**
 * An embedded OpenID Provider for the example app and the tests: the certified `oidc-provider` package with a
 * real login page and consent page, a few demo users, refresh tokens, PKCE required, RP-initiated logout (GET and
 * POST), token revocation and back-channel logout. It runs on loopback only. It is a demo IdP: never use it (or
 * its users) in production.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import Provider, { interactionPolicy } from 'oidc-provider';

/** Demo users: login name -> password and claims. */
export const DEMO_USERS = {
  alice: {
    password: 'alice-password',
    /** Alice has a second factor: this one-time code makes her login `urn:mfa` (demo only, of course). */
    otp: '123456',
    claims: { name: 'Alice Example', given_name: 'Alice', email: 'alice@example.com', email_verified: true, groups: ['admin', 'staff'] },
  },
  bob: {
    password: 'bob-password',
    claims: { name: 'Bob Example', given_name: 'Bob', email: 'bob@example.com', email_verified: false, groups: ['staff'] },
  },
};

/** Host names of this machine: the only places the demo IdP lets its fetch reach without oidc-provider's SSRF guard. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const esc = (/** @type {unknown} */ s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const page = (/** @type {string} */ title, /** @type {string} */ body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Demo IdP</title>
<style>
 body{font:16px/1.5 system-ui,sans-serif;background:#eef1f6;margin:0;display:grid;place-items:center;min-height:100vh;color:#1f2933}
 main{background:#fff;padding:2rem 2.5rem;border-radius:10px;box-shadow:0 4px 18px #0002;width:22rem}
 h1{font-size:1.3rem;margin-top:0} label{display:block;margin:.8rem 0 .2rem;font-size:.9rem}
 input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c3cad4;border-radius:5px;font-size:1rem}
 button{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:5px;background:#7b3fe4;color:#fff;font-size:1rem;cursor:pointer}
 button.secondary{background:#e4e7ec;color:#1f2933} .hint{font-size:.8rem;color:#52606d} .error{color:#b42318}
 ul{padding-left:1.2rem}
</style></head><body><main>${body}</main></body></html>`;

/**
 * Serves the IdP's SameSite=None cookies as SameSite=Lax. Browsers refuse SameSite=None without Secure, and plain
 * http cannot set Secure; Lax is enough here because the demo IdP and the app share a host (one site: ports do not
 * count), so the app's POST to the logout endpoint is a same-site request that carries Lax cookies. A real IdP on
 * its own site keeps SameSite=None; Secure.
 * @param {import('express').Request} _req
 * @param {import('express').Response} res
 * @param {import('express').NextFunction} next
 */
function sameSiteLax(_req, res, next) {
  // The cookies package writes Set-Cookie past any setHeader override, so the headers are fixed as they go out.
  const writeHead = res.writeHead;
  res.writeHead = /** @type {typeof res.writeHead} */ (
    function (/** @type {Parameters<typeof res.writeHead>} */ ...args) {
      const cookies = res.getHeader('set-cookie');
      if (Array.isArray(cookies)) res.setHeader('set-cookie', cookies.map((c) => c.replace(/;\s*samesite=none/i, '; samesite=lax')));
      return writeHead.apply(res, args);
    }
  );
  next();
}

/**
 * @typedef {import('oidc-provider').ClientMetadata} IdpClient
 *
 * @typedef {object} IdpOptions
 * @property {number} [port] 0 (default) picks a free port.
 * @property {string} [host] default 127.0.0.1
 * @property {IdpClient[]} clients
 * @property {boolean} [autoConsent] grant consent without asking (tests).
 * @property {number} [accessTokenTTL] seconds, default 3600.
 * @property {boolean} [rotateRefreshTokens] issue a new refresh token on every refresh (and reject reuse).
 * @property {(event: string, detail?: unknown) => void} [onEvent] observes grants, for tests and logs.
 * @property {Record<string, { password: string, claims: Record<string, unknown> }>} [users] more accounts besides
 *   DEMO_USERS (load tests sign in many distinct users at once).
 * @property {Record<string, object>} [features] oidc-provider feature settings that replace the ones below per
 *   feature (oidc-provider fills the rest from its own defaults), e.g. `{ dPoP: { nonceSecret, requireNonce } }`
 *   or `{ fapi: { enabled: true, profile: '2.0' } }`.
 * @property {string} [signingAlg] JWS algorithm of the IdP's signing key, default RS256 (PS256 for FAPI 2.0).
 * @property {Array<Parameters<Provider['use']>[0]>} [use] koa middlewares of the OP, run around each of its requests
 *   (tests record what reached an endpoint); Koa composes them when the server starts, so they are given here.
 * @property {Record<string, unknown>} [configuration] more oidc-provider configuration, merged over the one below
 *   (tests: `discovery` with `mtls_endpoint_aliases`, `clientAuthMethods`, `enabledJWA`, ...).
 */

/**
 * Starts the demo IdP.
 * @param {IdpOptions} options
 * @returns {Promise<{ issuer: string, provider: Provider, server: http.Server, listener: http.RequestListener, close: () => Promise<void> }>}
 */
export async function startIdp(options) {
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer();
  // A port in use rejects (EADDRINUSE) instead of crashing the process, so callers can say what to do.
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const issuer = `http://${host}:${address.port}`;
  // A Map, not a plain-object lookup: a login name such as `constructor` or `__proto__` must find no account (with
  // `users[login]` it found Object.prototype's, whose missing password matched a form without one).
  /** @type {Map<string, { password: string, claims: Record<string, unknown>, otp?: string }>} */
  const accounts = new Map([...Object.entries(options.users ?? {}), ...Object.entries(DEMO_USERS)]);
  /** @param {string} login */
  const findUser = (login) => accounts.get(login);
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  // Step-up (acr_values): an IdP session whose acr is not among the requested ones must sign in again, unless this
  // very interaction just did (the user could not do better: the RP decides what to make of the weaker acr).
  const policy = interactionPolicy.base();
  policy.get('login')?.checks.push(
    new interactionPolicy.Check('acr_step_up', 'requested acr not satisfied', 'login_required', (ctx) => {
      const requested = String(ctx.oidc.params?.acr_values ?? '').split(' ').filter(Boolean);
      if (!requested.length || !ctx.oidc.session?.accountId || ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return requested.includes(String(ctx.oidc.session?.acr)) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );

  const provider = new Provider(issuer, {
    acrValues: ['urn:basic', 'urn:mfa'],
    interactions: { policy },
    clients: options.clients.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys: [{ ...signingKey, kid: `demo-${randomBytes(4).toString('hex')}`, use: 'sig', alg: options.signingAlg ?? 'RS256' }] },
    // The app's logout posts its end-session request (the ID token in the body, never in a URL). oidc-provider
    // takes POST at its logout endpoint only with SameSite=None session cookies, since a Lax cookie does not come
    // with a POST from another site; see sameSiteLax() for why Lax is what this loopback IdP serves.
    cookies: { keys: [randomBytes(32).toString('hex')], long: { sameSite: 'none' } },
    enableHttpPostMethods: true,
    pkce: { required: () => true },
    // Put profile and email claims in the ID token, as most hosted IdPs do.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    findAccount: async (_ctx, id) => {
      const user = findUser(id);
      if (!user) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...user.claims }) };
    },
    // A confidential web client allowed the refresh_token grant gets refresh tokens without offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => Boolean(options.rotateRefreshTokens),
    ttl: {
      AccessToken: options.accessTokenTTL ?? 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 3600,
      Grant: 14 * 24 * 3600,
    },
    // The demo IdP delivers back-channel logout tokens to apps on loopback. oidc-provider's own fetch refuses
    // loopback and private addresses (an SSRF guard, right for a real IdP), so for loopback URLs only, this demo
    // drops that guard; any other URL keeps it.
    fetch: (url, init) => {
      const href = url instanceof Request ? url.url : String(url);
      if (!LOOPBACK_HOSTS.has(new URL(href).hostname)) return globalThis.fetch(url, init);
      const { dispatcher: _ssrfGuard, ...rest } = /** @type {RequestInit & { dispatcher?: unknown }} */ (init ?? {});
      return globalThis.fetch(url, rest);
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page(
            'Sign out',
            `<h1>Sign out of the Demo IdP?</h1>${form}
             <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
             <button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<h1>You are signed out of the Demo IdP.</h1>');
        },
      },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      ...options.features,
    },
    loadExistingGrant: async (ctx) => {
      const oidc = /** @type {any} */ (ctx.oidc);
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId) return oidc.provider.Grant.find(grantId);
      if (!options.autoConsent) return undefined;
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope(oidc.params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Something went wrong</h1><p class="error">${esc(out.error)}: ${esc(out.error_description)}</p>`);
    },
    ...options.configuration,
  });
  provider.proxy = false;
  // One listener per event: the typed overloads of Provider#on take literal event names.
  provider.on('grant.success', (ctx) => options.onEvent?.('grant.success', { ctx }));
  provider.on('grant.error', (ctx, error) => options.onEvent?.('grant.error', { ctx, error }));
  provider.on('end_session.success', (ctx) => options.onEvent?.('end_session.success', { ctx }));
  provider.on('backchannel.success', (client, accountId, sid) => options.onEvent?.('backchannel.success', { client, accountId, sid }));
  provider.on('backchannel.error', (ctx, error) => options.onEvent?.('backchannel.error', { ctx, error }));

  const app = express();
  app.disable('x-powered-by');
  app.use(sameSiteLax);
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  const form = express.urlencoded({ extended: false });

  app.get('/interaction/:uid', async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const uid = esc(details.uid);
      if (details.prompt.name === 'login') {
        res.type('html').send(
          page(
            'Sign in',
            `<h1>Sign in to the Demo IdP</h1>
             <form method="post" action="/interaction/${uid}/login" autocomplete="off">
               <label for="login">Username</label><input id="login" name="login" required autofocus>
               <label for="password">Password</label><input id="password" name="password" type="password" required>
               <label for="otp">One-time code (optional, for a stronger sign-in)</label><input id="otp" name="otp" inputmode="numeric">
               <button type="submit">Sign in</button>
             </form>
             <p class="hint">Demo users: <b>alice</b> / alice-password (one-time code 123456), <b>bob</b> / bob-password</p>
             <form method="post" action="/interaction/${uid}/abort"><button class="secondary">Cancel</button></form>`,
          ),
        );
        return;
      }
      const client = await provider.Client.find(String(details.params.client_id));
      const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
      res.type('html').send(
        page(
          'Allow access',
          `<h1>Allow ${esc(client?.clientName ?? client?.clientId)} to access your account?</h1>
           <ul>${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
           <form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
           <form method="post" action="/interaction/${uid}/abort"><button class="secondary">Deny</button></form>`,
        ),
      );
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/login', form, async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const login = String(req.body?.login ?? '');
      const user = findUser(login);
      const password = req.body?.password;
      if (details.prompt.name !== 'login' || !user || typeof password !== 'string' || user.password !== password) {
        res.status(401).type('html').send(
          page(
            'Sign in',
            `<h1>Sign in to the Demo IdP</h1><p class="error">Wrong username or password.</p>
             <p><a href="/interaction/${esc(details.uid)}">Try again</a></p>`,
          ),
        );
        return;
      }
      // A correct one-time code makes this a multi-factor login (acr urn:mfa); otherwise urn:basic.
      const mfa = 'otp' in user && Boolean(req.body?.otp) && req.body.otp === user.otp;
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: login, acr: mfa ? 'urn:mfa' : 'urn:basic', amr: mfa ? ['pwd', 'otp'] : ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/confirm', form, async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const { prompt, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session?.accountId, clientId: String(params.client_id) });
      if (!grant) throw new Error('grant not found');
      const missing = /** @type {{ missingOIDCScope?: string[], missingOIDCClaims?: string[] }} */ (prompt.details);
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/abort', async (req, res, next) => {
    try {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      next(err);
    }
  });

  for (const middleware of options.use ?? []) provider.use(middleware);
  app.use(provider.callback());
  server.on('request', app);

  return {
    issuer,
    provider,
    server,
    // The same IdP on another server too, e.g. a TLS server asking for client certificates (mTLS tests).
    listener: app,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
