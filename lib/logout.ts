/**
 * GET or POST /logout: ends the local session, then RP-initiated logout at the IdP (OpenID Connect RP-Initiated
 * Logout 1.0) when it advertises an end_session_endpoint, else back to the app.
 */
import type { RequestHandler } from 'express';
import * as client from 'openid-client';
import type { Context } from './context.js';
import { passError } from './errors.js';
import { destroySession, sessionOf, storedUser } from './session-state.js';

/** @private */
export function logoutHandler(ctx: Context): RequestHandler {
  const { config } = ctx;
  return async (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    try {
      const user = storedUser(sessionOf(req));
      let target = config.baseURL;
      if (user) {
        try {
          const configuration = await ctx.provider.get();
          if (configuration.serverMetadata().end_session_endpoint) {
            const params: Record<string, string> = { post_logout_redirect_uri: config.baseURL, client_id: config.clientId };
            if (user.tokens.idToken) params.id_token_hint = user.tokens.idToken;
            target = client.buildEndSessionUrl(configuration, params).href;
          }
        } catch {
          // The IdP is unreachable: the local logout still happens; the IdP session will expire on its own.
        }
      }
      await destroySession(req);
      res.redirect(302, target);
    } catch (err) {
      passError(req, res, next, err, ctx.loginPath);
    }
  };
}
