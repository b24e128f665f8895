/**
 * attemptSilentLogin(): logs a visitor in without any page at the IdP when they already have an IdP session
 * (OIDC Core §3.1.2.1 `prompt=none`). Tried once per session and remembered there, so it never loops; an IdP
 * answer that needs the user (`login_required`, §3.1.2.6) brings them back anonymous to the page they asked for.
 */
import type { RequestHandler } from 'express';
import { passError } from '../errors.js';
import { contextOf } from '../routes/context.js';
import { startLogin } from '../routes/login.js';
import { safeReturnTo } from '../routes/return-to.js';
import { saveSession } from '../session/persistence.js';
import { sessionOf } from '../session/state.js';
import { wantsRedirect } from './require-auth.js';

/**
 * Middleware: on the first page view of an anonymous session, redirects once to the IdP with `prompt=none` and
 * comes back to the same URL, logged in if the IdP session allowed it, anonymous otherwise. Only browser
 * navigations (GET/HEAD accepting HTML) are redirected; API calls, logged-in sessions and sessions that already
 * tried (or logged out) pass straight through. A failure (IdP down, store down) never blocks the page.
 * Mount after `oauthLogin()`: `app.use(attemptSilentLogin())` or on selected routes.
 * @public
 */
export function attemptSilentLogin(): RequestHandler {
  return async (req, res, next) => {
    let ctx;
    let session;
    try {
      ctx = contextOf(req);
      session = sessionOf(req);
    } catch (err) {
      passError(req, next, err);
      return;
    }
    // prompt=none is OpenID Connect (§3.1.2.1): an OAuth 2.0 server could show its pages instead, so never try.
    if (!wantsRedirect(req) || session.oauth?.user || session.oauth?.silentTried || ctx.config.protocol === 'oauth2') {
      next();
      return;
    }
    (session.oauth ??= {}).silentTried = true;
    try {
      await startLogin(ctx, req, res, { returnTo: safeReturnTo(req.originalUrl, ctx.config.basePath), silent: true });
    } catch {
      // Never block a page that works anonymously; the flag stays set so the next request does not retry.
      await saveSession(req).catch(() => undefined);
      next();
    }
  };
}
