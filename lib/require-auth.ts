/**
 * requireAuth(): the guard in front of protected routes. One session read (done by express-session), no network
 * call unless the access token needs a refresh, and a session write at most once a minute (idle tracking).
 */
import type { Request, RequestHandler } from 'express';
import { contextOf } from './context.js';
import { UnauthenticatedError, passError } from './errors.js';
import { needsRefresh } from './refresh.js';
import { type StoredUser, destroySession, nowSeconds, sessionOf, storeTokens, storedUser } from './session-state.js';
import type { AuthenticatedUser } from './types.js';

/** Options of {@link requireAuth}. @public */
export interface RequireAuthOptions {
  /**
   * What an unauthenticated request gets. `'auto'` (default): a GET that accepts HTML is redirected to the login
   * route with `returnTo`, anything else gets 401 JSON. `'401'`: always 401.
   */
  onUnauthenticated?: 'auto' | '401';
}

/** Writing `seenAt` on every request would rewrite the session each time; once a minute is precise enough. */
const SEEN_RESOLUTION = 60;

/** Builds `req.user` from the stored session record. @private */
export function toAuthenticatedUser(user: StoredUser): AuthenticatedUser {
  const { tokens } = user;
  return {
    sub: user.sub,
    claims: user.claims,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    ...(tokens.expiresAt !== undefined && { expiresAt: tokens.expiresAt }),
    ...(tokens.refreshToken !== undefined && { refreshToken: tokens.refreshToken }),
    ...(tokens.idToken !== undefined && { idToken: tokens.idToken }),
    ...(tokens.scope !== undefined && { scope: tokens.scope }),
  };
}

function wantsRedirect(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && req.accepts(['json', 'html']) === 'html';
}

/**
 * Resolves the session's user: enforces idle and absolute lifetimes, refreshes an expiring access token, and ends
 * the session when the login is no longer valid. Returns undefined when there is no (longer a) logged-in user.
 * @private
 */
export async function currentUser(req: Request): Promise<StoredUser | undefined> {
  const { config, refresher } = contextOf(req);
  const session = sessionOf(req);
  const user = storedUser(session);
  if (!user) return undefined;
  const now = nowSeconds();
  if (now - user.loginAt >= config.absoluteTimeout || now - user.seenAt >= config.idleTimeout) {
    await destroySession(req);
    return undefined;
  }
  if (now - user.seenAt >= SEEN_RESOLUTION) user.seenAt = now;
  if (needsRefresh(user.tokens, config.refreshSkew)) {
    const tokens = await refresher.refresh(user);
    if (!tokens) {
      await destroySession(req);
      return undefined;
    }
    storeTokens(session, tokens);
  }
  return user;
}

/**
 * Protects a route: with a logged-in session, sets `req.user` and calls `next()`; otherwise redirects a browser to
 * the login route (coming back to this URL afterwards) or answers 401 JSON.
 * @public
 */
export function requireAuth(options: RequireAuthOptions = {}): RequestHandler {
  const mode = options.onUnauthenticated ?? 'auto';
  return async (req, res, next) => {
    let loginPath = '/login';
    try {
      const ctx = contextOf(req);
      loginPath = ctx.loginPath;
      const user = await currentUser(req);
      if (user) {
        req.user = toAuthenticatedUser(user);
        next();
        return;
      }
      if (mode === 'auto' && wantsRedirect(req)) {
        res.set('Cache-Control', 'no-store');
        res.redirect(302, `${ctx.loginPath}?returnTo=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      passError(req, res, next, new UnauthenticatedError(), loginPath, 'json');
    } catch (err) {
      passError(req, res, next, err, loginPath);
    }
  };
}
