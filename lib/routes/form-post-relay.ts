/**
 * form_post with a SameSite=Lax session cookie. The IdP's page POSTs the authorization response to the callback
 * from the IdP's site, and browsers do not send Lax cookies with cross-site POSTs (RFC 6265bis §5.6.7.1), so that
 * request arrives without the session that holds the login in progress. Rather than asking apps to make their
 * session cookie SameSite=None (which gives up the CSRF protection of every route), the callback then answers a
 * tiny page that POSTs the same fields to itself: a form submitted by a page of this very site is same-site, so the
 * browser sends the Lax cookie with it. JavaScript submits it at once; without JavaScript, a button does.
 *
 * Nothing is spent by the cookie-less hop: the pending login (and its `state`) is taken only by the request that
 * carries the session, exactly as without the relay. The re-submitted POST is marked, so when it still finds no
 * login in progress (cookies blocked, state already used, a forged post) it gets the usual 400 page: no loop.
 * The page is no-store and no-referrer like every callback answer, with a CSP that allows only its own script
 * (a fresh nonce), its own style and a form posting to this origin.
 */
import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { LoginStateError, passError } from '../errors.js';
import { sessionOf } from '../session/state.js';
import type { Context } from './context.js';

/** Marks the re-submitted POST; removed before the response is processed. @private */
export const RELAY_FIELD = 'oauth_login_relay';

/** Authorization response parameters worth relaying (RFC 6749 §4.1.2, RFC 9207, JARM §2.3, OIDC Session §3; Apple's `user`). */
const RESPONSE_FIELDS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'response', 'session_state', 'user'];

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The posted authorization response fields, allow-listed and as strings only. */
function postedFields(req: Request): Array<[string, string]> {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return [];
  return RESPONSE_FIELDS.flatMap((name) => {
    const value = (body as Record<string, unknown>)[name];
    return typeof value === 'string' ? [[name, value] as [string, string]] : [];
  });
}

function relayPage(action: string, fields: Array<[string, string]>, nonce: string): string {
  const all: Array<[string, string]> = [...fields, [RELAY_FIELD, '1']];
  const inputs = all.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Signing you in</title>
<style nonce="${nonce}">body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:26rem;text-align:center;color:#1f2933}button{padding:.5rem 1.5rem;font-size:1rem}</style>
</head><body><form method="post" action="${escapeHtml(action)}">${inputs}
<p>Finishing the sign-in&hellip;</p><button type="submit">Continue</button></form>
<script nonce="${nonce}">document.forms[0].submit();</script></body></html>`;
}

/**
 * The form_post callback's first step: a POST that finds no login in progress in its session is relayed once
 * through the page above; a relayed POST that still finds none is refused with 400 `state_unknown`. Anything else
 * goes on to the callback handler (without the relay marker).
 * @private
 */
export function formPostRelay(ctx: Context): RequestHandler {
  return (req, res, next) => {
    try {
      const body = req.body as Record<string, unknown> | undefined;
      const relayed = body?.[RELAY_FIELD] === '1';
      if (body && RELAY_FIELD in body) delete body[RELAY_FIELD];
      if (sessionOf(req).oauth?.pending) return next();
      if (relayed) {
        throw new LoginStateError(
          'state_unknown',
          400,
          'This sign-in response does not match a sign-in in progress in this browser: it was already used, or ' +
            'the browser did not send this site\'s cookies (blocked cookies, a private window that discards them). Start again.',
        );
      }
      const fields = postedFields(req);
      // Nothing that names a login (no state, no JARM response): the handler says what is missing.
      if (!fields.some(([name]) => name === 'state' || name === 'response')) return next();
      const nonce = randomBytes(16).toString('base64');
      res.set({
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
        'X-Content-Type-Options': 'nosniff',
      });
      res.status(200).type('html').send(relayPage(ctx.config.redirectUri, fields, nonce));
    } catch (err) {
      passError(req, next, err);
    }
  };
}
