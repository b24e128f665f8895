/**
 * The logout route (README "Logout"). Ending a session takes proof that the user asked, so that no other site can
 * log anyone out (logout CSRF), nor, through RP-initiated logout, end their single sign-on at the IdP:
 * - `POST routes.logout` ends the session when it comes from the app's own origin (request-site.ts: `Origin`,
 *   else `Sec-Fetch-Site`, else `Referer`) or carries the session's logout token; anything else is refused (403
 *   `logout_refused`) and ends nothing.
 * - `GET routes.logout` ends it only with the logout token (the link `logoutUrl(req)` renders), not from another
 *   site and not as a prefetch; otherwise it answers a confirmation page whose form POSTs the token.
 *   `requireLogoutToken: false` lets a same-origin GET through without the token.
 * - `GET routes.logout?state=...` is where the IdP sends the browser back (the `post_logout_redirect_uri`): the
 *   `state` must be the one this browser's logout sent (single use, `loginTimeout`), then the browser goes on to
 *   `postLogoutRedirect`; a wrong or stale one is refused (400 `logout_state_invalid`) and changes nothing.
 *
 * Ending a session: the local session is replaced by a fresh one (the old id is destroyed in the store), the tokens
 * are revoked at the IdP (RFC 7009, bounded by httpTimeout, never failing the logout), and with `idpLogout` the
 * browser carries an RP-initiated logout to the IdP's end_session_endpoint as a form POST (end-session.ts).
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import { LogoutError, passError } from '../errors.js';
import { emit, emitError } from '../events.js';
import { endSessionRequest } from '../idp/end-session.js';
import { revokeTokens } from '../idp/revocation.js';
import { isLogoutToken, logoutTokenOf, startLoggedOutSession, takePendingLogout } from '../session/logout-state.js';
import { destroySession, regenerateSession, saveSession } from '../session/persistence.js';
import { unindexSession } from '../session/sid-index.js';
import { type PendingLogout, type StoredUser, sessionOf, storedUser } from '../session/state.js';
import { providerLabel, recordLogout } from '../telemetry.js';
import type { Context } from './context.js';
import { LOGOUT_TOKEN_PARAM, sendConfirmationPage, sendEndSessionPage } from './logout-pages.js';
import { isSpeculative, requestSite } from './request-site.js';

/** The confirmation form carries one token; a bigger body is not that form. */
const BODY_LIMIT = '4kb';

/** What the IdP may use to find the session without an ID token (§2): the login_hint claim some IdPs issue, else sid. */
function logoutHint(user: StoredUser): string | undefined {
  return typeof user.claims.login_hint === 'string' ? user.claims.login_hint : user.sid;
}

/**
 * Replaces the session with a fresh, empty one (the old id is destroyed in the store) that remembers the user
 * logged out, so attemptSilentLogin() does not sign them straight back in with their IdP session, and holds the
 * end-session `state` when the browser is on its way to the IdP.
 */
async function replaceSession(req: Request, pending: PendingLogout | undefined): Promise<void> {
  startLoggedOutSession(await regenerateSession(req), pending);
  await saveSession(req);
}

/** Ends the user's session here, revokes their tokens, and sends the browser on (to the IdP, or home). */
async function endLogin(ctx: Context, req: Request, res: Response, user: StoredUser): Promise<void> {
  const { config } = ctx;
  const oldId = sessionOf(req).id;
  // In parallel with the rest: it resolves within httpTimeout whatever the IdP does, and never rejects.
  const revocation = revokeTokens(ctx, user.tokens);
  const state = client.randomState();
  const hint = logoutHint(user);
  const subject = { ...(user.tokens.idToken && { idToken: user.tokens.idToken }), ...(hint !== undefined && { logoutHint: hint }) };
  const request = config.idpLogout ? await endSessionRequest(ctx.provider, config, subject, state) : undefined;
  await replaceSession(req, request && { state, createdAt: nowSeconds(), ...(config.name !== undefined && { provider: config.name }) });
  // Best effort: an index entry without a session is harmless and expires on its own.
  await unindexSession(config, req, user, oldId).catch(() => undefined);
  for (const failure of (await revocation).failures) emitError(req, failure);
  emit(req, 'logout', { sub: user.sub, idpLogout: request !== undefined });
  recordLogout(providerLabel(config), request !== undefined);
  if (!request) res.redirect(302, config.postLogoutUrl);
  else if (request.method === 'GET') res.redirect(302, request.url);
  else sendEndSessionPage(res, request);
}

/** The browser is back from the IdP's end-session endpoint with `state` (RP-Initiated Logout 1.0 §3). */
function finishLogout(ctx: Context, req: Request, res: Response, state: unknown): void {
  const session = sessionOf(req);
  const pending = typeof state === 'string' ? takePendingLogout(session, state, ctx.config.loginTimeout) : undefined;
  // A return that matches no logout of this browser proves nothing: say so, change nothing (the session, if any,
  // is left as it is), and do not present it as a completed sign-out.
  if (!pending) throw new LogoutError('logout_state_invalid');
  res.redirect(302, ctx.config.postLogoutUrl);
}

/** GET routes.logout: the IdP's return, a tokenised link, or the confirmation page. @private */
export function logoutGetHandler(ctx: Context): RequestHandler {
  const { config } = ctx;
  return async (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    try {
      if (req.query.state !== undefined) {
        finishLogout(ctx, req, res, req.query.state);
        return;
      }
      const session = sessionOf(req);
      const user = storedUser(session);
      // Nothing to end: no session is created for an anonymous request.
      if (!user) {
        res.redirect(302, config.postLogoutUrl);
        return;
      }
      const site = requestSite(req, config.logoutAllowedOrigins);
      // Only a real GET the user made: not a HEAD, not a prefetch of a link they have not clicked.
      const deliberate = req.method === 'GET' && !isSpeculative(req);
      const tokenised = site !== 'cross-site' && isLogoutToken(session, req.query[LOGOUT_TOKEN_PARAM]);
      const relaxed = !config.requireLogoutToken && (site === 'same-origin' || site === 'user');
      if (deliberate && (tokenised || relaxed)) {
        await endLogin(ctx, req, res, user);
        return;
      }
      sendConfirmationPage(res, { action: config.logoutPath, token: logoutTokenOf(session)!, cancelHref: config.basePath || '/' });
    } catch (err) {
      passError(req, next, err);
    }
  };
}

/** POST routes.logout: a small form body parser (the confirmation form), then the logout. @private */
export function logoutPostHandlers(ctx: Context): RequestHandler[] {
  const { config } = ctx;
  const parse = express.urlencoded({ extended: false, limit: BODY_LIMIT });
  const handle: RequestHandler = async (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    try {
      const session = sessionOf(req);
      const site = requestSite(req, config.logoutAllowedOrigins);
      const body: unknown = req.body;
      const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[LOGOUT_TOKEN_PARAM] : undefined;
      // Same origin, or the session's own token from a browser that sent no origin information at all.
      if (site !== 'same-origin' && (site === 'cross-site' || !isLogoutToken(session, token))) throw new LogoutError('logout_refused');
      const user = storedUser(session);
      if (user) {
        await endLogin(ctx, req, res, user);
        return;
      }
      // Without a user there is nothing to remember: do not keep sessions for anonymous requests.
      await destroySession(req);
      res.redirect(302, config.postLogoutUrl);
    } catch (err) {
      passError(req, next, err);
    }
  };
  // A body that is not a small form carries no token; the origin check still decides.
  return [(req, res, next) => parse(req, res, () => next()), handle];
}
