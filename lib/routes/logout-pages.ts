/**
 * The two small pages of a logout (README "Logout"), both usable without JavaScript:
 * - the confirmation page a GET of the logout route answers when it cannot prove the user asked (a link from
 *   another site, an old bookmark): a POST form with the per-session logout token and a Cancel link;
 * - the end-session page that carries the RP-initiated logout to the IdP as a form POST (the ID token in a body,
 *   never in a URL), submitted by a one-line script, or by its button without JavaScript.
 *
 * Both are `no-store`, cannot be framed (clickjacking a "Sign out" button is logout CSRF by other means) and run
 * under a Content-Security-Policy that allows nothing but their own nonce-tagged style and script.
 */
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import type { EndSessionRequest } from '../idp/end-session.js';
import { escapeHtml } from './error-page.js';

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}button{font:inherit;padding:.5rem 1.2rem;border:0;border-radius:4px;background:#2457d6;color:#fff;cursor:pointer}
a{margin-left:1rem;color:#2457d6}`;

/**
 * Sends `body` (built with the nonce) as a no-store, unframeable page. `referrer` is the Referrer-Policy: the
 * confirmation form posts to the app itself, which must see its Origin (`no-referrer` would make it `null`); the
 * end-session form posts to the IdP, which learns at most the app's origin.
 */
function sendPage(res: Response, title: string, referrer: 'same-origin' | 'strict-origin', body: (nonce: string) => string): void {
  const nonce = randomBytes(16).toString('base64');
  res.status(200).set({
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; frame-ancestors 'none'`,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': referrer,
  });
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style nonce="${nonce}">${STYLE}</style></head>
<body><main>
${body(nonce)}
</main></body></html>`);
}

/** The name of the logout token in the confirmation form and in `logoutUrl(req)`'s query. @private */
export const LOGOUT_TOKEN_PARAM = 'confirm';

/**
 * The confirmation page: "Sign out?" with a POST form to the logout route carrying the session's logout token.
 * @private
 */
export function sendConfirmationPage(res: Response, page: { action: string; token: string; cancelHref: string }): void {
  sendPage(res, 'Sign out?', 'same-origin', () => `<h1>Sign out?</h1>
<p>Do you want to sign out of this app?</p>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="${LOGOUT_TOKEN_PARAM}" value="${escapeHtml(page.token)}">
<button type="submit">Sign out</button><a href="${escapeHtml(page.cancelHref)}">Cancel</a>
</form>`);
}

/**
 * The end-session page: a form POST to the IdP's end_session_endpoint, submitted at once by a nonce-tagged script
 * (RP-Initiated Logout 1.0 §2 allows POST); without JavaScript the user presses Continue.
 * @private
 */
export function sendEndSessionPage(res: Response, request: EndSessionRequest): void {
  const inputs = Object.entries(request.fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  sendPage(res, 'Signing out…', 'strict-origin', (nonce) => `<h1>Signing you out…</h1>
<form id="end-session" method="post" action="${escapeHtml(request.url)}">
${inputs}
<p>You are signed out of this app. Continue to sign out at the identity provider too.</p>
<button type="submit">Continue</button>
</form>
<script nonce="${nonce}">document.getElementById('end-session').submit();</script>`);
}
