/**
 * GET or POST /logout: ends the local session, then RP-initiated logout at the IdP (OpenID Connect RP-Initiated
 * Logout 1.0) when `idpLogout` is on and the IdP advertises an end_session_endpoint, else straight to
 * `postLogoutRedirect` (local-only logout: the IdP session, and other apps' sessions, stay).
 */
import type { Request, RequestHandler } from 'express';
import * as client from 'openid-client';
import { passError } from '../errors.js';
import { emit } from '../events.js';
import { destroySession, regenerateSession, saveSession } from '../session/persistence.js';
import { unindexSession } from '../session/sid-index.js';
import { type StoredUser, sessionOf, storedUser } from '../session/state.js';
import { providerLabel, recordLogout } from '../telemetry.js';
import type { Context } from './context.js';

async function endSessionUrl(ctx: Context, user: StoredUser): Promise<string | undefined> {
  const { config } = ctx;
  try {
    const configuration = await ctx.provider.get();
    if (!configuration.serverMetadata().end_session_endpoint) return undefined;
    // §3: post_logout_redirect_uri must be registered at the IdP; id_token_hint tells it whose session to end.
    const params: Record<string, string> = { post_logout_redirect_uri: config.postLogoutUrl, client_id: config.clientId };
    if (user.tokens.idToken) params.id_token_hint = user.tokens.idToken;
    return client.buildEndSessionUrl(configuration, params).href;
  } catch {
    // The IdP is unreachable: the local logout still happens; the IdP session will expire on its own.
    return undefined;
  }
}

/**
 * Replaces the session with a fresh, empty one (the old id is destroyed in the store) that remembers the user
 * logged out, so attemptSilentLogin() does not sign them straight back in with their IdP session.
 */
async function replaceSession(req: Request): Promise<void> {
  (await regenerateSession(req)).oauth = { silentTried: true };
  await saveSession(req);
}

/** @private */
export function logoutHandler(ctx: Context): RequestHandler {
  const { config } = ctx;
  return async (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    try {
      const session = sessionOf(req);
      const user = storedUser(session);
      const oldId = session.id;
      const idpTarget = user && config.idpLogout ? await endSessionUrl(ctx, user) : undefined;
      // Without a user there is nothing to remember: do not create sessions for anonymous requests.
      if (user) await replaceSession(req);
      else await destroySession(req);
      if (user) {
        // Best effort: an index entry without a session is harmless and expires on its own.
        await unindexSession(ctx.config, req, user, oldId).catch(() => undefined);
        emit(req, 'logout', { sub: user.sub, idpLogout: idpTarget !== undefined });
        recordLogout(providerLabel(config), idpTarget !== undefined);
      }
      res.redirect(302, idpTarget ?? config.postLogoutUrl);
    } catch (err) {
      passError(req, next, err);
    }
  };
}
