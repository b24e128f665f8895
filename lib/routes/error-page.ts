/**
 * The default answer to the middleware's errors: a small HTML page that says what happened and offers to start
 * again, or JSON for API clients. Two ways in, neither of which looks inside the app:
 * - the router's own error handler ({@link routeErrorHandler}) for errors on the routes oauthLogin() mounts
 *   (login, callback, logout, back-channel logout), unless `errorPage: false` hands them to the app;
 * - {@link oauthErrorHandler}, which the app mounts after its routes for errors from requireAuth(), oauthSession()
 *   and the other guards (they reach it with next(err), like any error of the app's own).
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import { boundConfig } from '../config/request.js';
import type { ResolvedConfig } from '../config/schema.js';
import { type OAuthLoginError, asOAuthError } from '../errors.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for HTML. @private */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** JSON or HTML: `unauthenticated` is always JSON (a browser navigation would have been redirected to log in). */
function wantsJson(req: Request, err: OAuthLoginError): boolean {
  return err.code === 'unauthenticated' || req.accepts(['html', 'json']) !== 'html';
}

/** The page's heading. */
function heading(err: OAuthLoginError): string {
  if (err.status === 503) return 'Temporarily unavailable';
  if (err.code === 'forbidden') return 'Access denied';
  return err.code.startsWith('logout_') ? 'Sign-out problem' : 'We could not sign you in';
}

/**
 * The page's button: "Start again" (the login) for what a new login fixes; for a refused logout, "Sign out", which
 * leads to the confirmation page (a GET of the logout route), so the user can still sign out on purpose.
 */
function action(req: Request, err: OAuthLoginError, loginPath: string): { href: string; label: string } | undefined {
  if (err.code === 'logout_refused') return { href: boundConfig(req)?.logoutPath ?? '/logout', label: 'Sign out' };
  if (err.code === 'logout_state_invalid') return undefined;
  return err.status < 500 || err.status === 503 ? { href: loginPath, label: 'Start again' } : undefined;
}

/**
 * Renders the default error page (or JSON for API clients) with the error's status and headers.
 * @private
 */
export function renderError(req: Request, res: Response, err: OAuthLoginError, loginPath: string): void {
  if (res.headersSent) return;
  res.status(err.status);
  res.set(err.headers);
  if (wantsJson(req, err)) {
    res.json(err.toJSON());
    return;
  }
  const button = action(req, err, loginPath);
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${err.code.startsWith('logout_') ? 'Sign-out' : 'Sign-in'} problem</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}code{background:#f0f2f5;padding:.1rem .3rem;border-radius:3px}
a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;background:#2457d6;color:#fff;border-radius:4px;text-decoration:none}</style>
</head><body><main>
<h1>${heading(err)}</h1>
<p>${escapeHtml(err.message)}</p>
<p>Error code: <code>${escapeHtml(err.code)}</code></p>
${button ? `<a class="button" href="${escapeHtml(button.href)}">${button.label}</a>` : ''}
<p><a href="/">Go to the home page</a></p>
</main></body></html>`);
}

/**
 * An Express error handler to mount after the app's routes: renders this middleware's errors (requireAuth(),
 * oauthSession(), getAccessToken() ...) with the default page, or JSON for API clients, and turns session store
 * failures into 503 `session_store_unavailable` (fail closed) instead of a 500. Other errors go on to the next
 * handler.
 *
 * @example
 * ```ts
 * app.use(oauthSession({ secret, redis }));
 * app.use(oauthLogin(config));
 * // ...routes...
 * app.use(oauthErrorHandler());
 * ```
 * @param options.loginPath where "Start again" leads; default: the login route of the oauthLogin() the request
 *   went through, else `/login`.
 * @public
 */
export function oauthErrorHandler(options: { loginPath?: string } = {}): ErrorRequestHandler {
  return (err, req, res, next) => {
    const ours = asOAuthError(req, err);
    if (!ours || res.headersSent) {
      next(err);
      return;
    }
    renderError(req, res, ours, options.loginPath ?? boundConfig(req)?.loginPath ?? '/login');
  };
}

/**
 * The error handler at the end of oauthLogin()'s router: errors on its own routes get the default page, on
 * Express 4 and 5 alike, with "Start again" leading to this provider's login. With `errorPage: false` they go on to
 * the app's error handlers instead. Errors that are not the middleware's (an app hook that threw) always go on.
 * @private
 */
export function routeErrorHandler(config: Pick<ResolvedConfig, 'errorPage' | 'loginPath'>): ErrorRequestHandler {
  return config.errorPage ? oauthErrorHandler({ loginPath: config.loginPath }) : (err, _req, _res, next) => next(err);
}
