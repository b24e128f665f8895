/**
 * GET /login: starts an authorization code flow (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and an OpenID Connect
 * nonce. The pending login lives in the server-side session keyed by its `state`, so several tabs can log in at once.
 */
import type { RequestHandler } from 'express';
import * as client from 'openid-client';
import type { Context } from './context.js';
import { passError } from './errors.js';
import { safeReturnTo } from './return-to.js';
import { addPendingLogin, nowSeconds, saveSession, sessionOf, warnAboutCookie } from './session-state.js';

/** @private */
export function loginHandler(ctx: Context): RequestHandler {
  const { config } = ctx;
  return async (req, res, next) => {
    try {
      const session = sessionOf(req);
      warnAboutCookie(session, config.secureCookies);
      const configuration = await ctx.provider.get();
      // 256-bit values from openid-client's CSPRNG helpers (RFC 9700 §2.1 wants at least 128 bits).
      const state = client.randomState();
      const nonce = client.randomNonce();
      const codeVerifier = client.randomPKCECodeVerifier();
      const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
      const returnTo = safeReturnTo(req.query.returnTo, config.basePath);
      addPendingLogin(
        session,
        state,
        { nonce, codeVerifier, returnTo, createdAt: nowSeconds() },
        { max: config.maxPendingLogins, ttl: config.loginTimeout },
      );
      const url = client.buildAuthorizationUrl(configuration, {
        ...config.authorizationParams,
        redirect_uri: config.redirectUri,
        scope: config.scope,
        state,
        nonce,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      });
      // Saved before the redirect: the callback may arrive at another instance before this response ends.
      await saveSession(req);
      res.set('Cache-Control', 'no-store');
      res.redirect(302, url.href);
    } catch (err) {
      passError(req, res, next, err, ctx.loginPath);
    }
  };
}
