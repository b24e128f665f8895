/**
 * The one-click "Log out" link for templates (README "Logout"): the logout route with the session's logout token,
 * which a GET of the logout route accepts as proof that the user clicked a link on the app's own pages. Other
 * sites cannot know the token, so their links only reach the confirmation page.
 */
import type { Request, Response } from 'express';
import { boundConfig } from '../config/request.js';
import { logoutTokenOf } from '../session/logout-state.js';
import type { ReqSession } from '../session/state.js';
import { LOGOUT_TOKEN_PARAM } from './logout-pages.js';

/**
 * The URL for a "Log out" link: `/logout?confirm=<token>` for a logged-in user (a GET of it ends the session in one
 * click), the bare logout route otherwise. Also available to templates as `res.locals.logoutUrl` on every request
 * that went through `oauthLogin()`.
 *
 * The token belongs to the session and changes with every login; it is not a credential (it can only end the
 * session it belongs to), but keep it out of logs and third-party pages like any per-session CSRF token.
 *
 * @example
 * ```ts
 * app.get('/', (req, res) => res.send(`<a href="${logoutUrl(req)}">Log out</a>`));
 * ```
 * @public
 */
export function logoutUrl(req: Request): string {
  const path = boundConfig(req)?.logoutPath ?? '/logout';
  const session = (req as { session?: ReqSession }).session;
  const token = session?.oauth ? logoutTokenOf(session) : undefined;
  return token ? `${path}?${LOGOUT_TOKEN_PARAM}=${encodeURIComponent(token)}` : path;
}

/** Defines `res.locals.logoutUrl`, computed when a template reads it (after requireAuth() has run). @private */
export function exposeLogoutUrl(req: Request, res: Response): void {
  const locals = res.locals as Record<string, unknown>;
  Object.defineProperty(locals, 'logoutUrl', { configurable: true, enumerable: true, get: () => logoutUrl(req) });
}
