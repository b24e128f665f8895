/**
 * How the authorization response reaches the callback (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
 * OAuth 2.0 Form Post Response Mode): in the query string of a GET (default), or with `responseMode: 'form_post'`
 * in the body of a POST that the IdP's page submits, which keeps the code out of the URL, history and logs.
 *
 * The catch with form_post: that POST is a cross-site request, and browsers do not send SameSite=Lax (or Strict)
 * cookies with cross-site POSTs. The session cookie must then be `SameSite=None; Secure` (https only) for the
 * callback to find the login in progress; otherwise the callback answers a 400 that says so, and the middleware
 * warns once at the first login. See README "form_post".
 */
import express, { type Request, type RequestHandler, type Router } from 'express';
import { LoginStateError, passError } from '../errors.js';
import { sessionOf } from '../session/state.js';
import type { Context } from './context.js';

/**
 * Headers of every answer at the callback: its request carries a one-time code, so nothing may be cached and the
 * next page must not receive the callback URL as its Referer.
 * @private
 */
export const CALLBACK_HEADERS = { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Referrer-Policy': 'no-referrer' } as const;

/** The authorization response parameters: the POST body with form_post, else the query string. @private */
export function responseSearch(req: Request): string {
  if (req.method === 'POST') {
    const body: unknown = req.body;
    const params = new URLSearchParams();
    if (typeof body === 'object' && body !== null) {
      for (const [k, v] of Object.entries(body)) if (typeof v === 'string') params.append(k, v);
    }
    return params.size ? `?${params}` : '';
  }
  const query = req.originalUrl.indexOf('?');
  return query === -1 ? '' : req.originalUrl.slice(query);
}

let warned = false;

/** Warns once when form_post meets a session cookie the browser will not send on the IdP's cross-site POST. @private */
export function warnAboutFormPostCookie(req: Request, ctx: Context): void {
  if (warned || ctx.config.responseMode !== 'form_post') return;
  const sameSite = sessionOf(req).cookie.sameSite;
  if (typeof sameSite === 'string' && sameSite.toLowerCase() === 'none') return;
  warned = true;
  process.emitWarning(
    'express-oauth-login: responseMode is "form_post" but the session cookie is not SameSite=None: browsers will not ' +
      'send it with the identity provider\'s cross-site POST to the callback. Use cookie: { sameSite: "none", secure: true } ' +
      '(https). See README "form_post".',
    { code: 'EXPRESS_OAUTH_LOGIN_FORM_POST', type: 'SecurityWarning' },
  );
}

/** Answers a callback that carries no session with a message about the cookie, rather than a bare state_unknown. */
function formPostSessionCheck(): RequestHandler {
  return (req, res, next) => {
    res.set(CALLBACK_HEADERS);
    try {
      if (!sessionOf(req).oauth?.pending) {
        throw new LoginStateError(
          'state_unknown',
          400,
          'The identity provider posted the sign-in response back (form_post), but this browser sent no sign-in in ' +
            'progress with it: it was already used, or the session cookie was not sent with the cross-site POST ' +
            '(it must be SameSite=None; Secure). Start again.',
        );
      }
      next();
    } catch (err) {
      passError(req, next, err);
    }
  };
}

/** A callback request in the wrong shape for the response mode: refused before any state is consumed. */
function wrongMethod(): RequestHandler {
  return (req, res, next) => {
    res.set(CALLBACK_HEADERS);
    passError(req, next, new LoginStateError('callback_invalid', 400, 'This app expects the sign-in response as a form POST (responseMode "form_post"). Start again.'));
  };
}

/**
 * Mounts the callback route for the configured response mode: GET for query; POST (with a body parser on this route
 * only, small limits) for form_post, where a GET is refused.
 * @private
 */
export function mountCallback(router: Router, ctx: Context, handler: RequestHandler): void {
  const path = ctx.config.routes.callback;
  if (ctx.config.responseMode !== 'form_post') {
    router.get(path, handler);
    return;
  }
  router.post(path, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), formPostSessionCheck(), handler);
  router.get(path, wrongMethod());
}
