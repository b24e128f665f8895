/**
 * Where a request to the logout route came from, as the browser tells it: the one check that stops logout CSRF
 * (README "Logout"). Browsers set these headers themselves and a web page cannot forge them; it can only make a
 * browser leave some out, which is why a request that tells nothing is never taken for a same-origin one.
 *
 * In order (the first that speaks decides):
 * 1. `Origin` (RFC 6454 §7, Fetch §3.1): sent with every POST; an origin other than the app's (or one listed in
 *    `logoutOrigins`) is cross-site. `Origin: null` (sandboxed frames, a `no-referrer` policy) tells nothing.
 * 2. `Sec-Fetch-Site` (Fetch Metadata Request Headers §2.1): `same-origin`; `none` for a navigation the user
 *    started (the address bar, a bookmark); `same-site` and `cross-site` are cross-site, unless `Referer` shows one
 *    of the `logoutOrigins` (which are other origins, so the browser calls them cross-site).
 * 3. `Referer` (RFC 9110 §10.1.3): its origin, compared like `Origin`.
 * 4. None of them: unknown, which the logout route treats like cross-site unless the logout token vouches.
 */
import type { Request } from 'express';

/** Where a request came from: the app's own pages, another site, a navigation the user typed, or unknown. @private */
export type RequestSite = 'same-origin' | 'cross-site' | 'user' | 'unknown';

function originOf(value: string): string | undefined {
  return URL.canParse(value) ? new URL(value).origin : undefined;
}

/**
 * Classifies the request against the origins allowed to end sessions (the app's own first, then `logoutOrigins`).
 * @private
 */
export function requestSite(req: Request, allowedOrigins: readonly string[]): RequestSite {
  const allowed = (origin: string | undefined) => origin !== undefined && origin !== 'null' && allowedOrigins.includes(origin);
  const origin = req.get('origin');
  if (origin !== undefined && origin !== 'null') return allowed(origin) ? 'same-origin' : 'cross-site';
  const referer = req.get('referer');
  const fetchSite = req.get('sec-fetch-site');
  if (fetchSite !== undefined) {
    if (fetchSite === 'same-origin') return 'same-origin';
    if (fetchSite === 'none') return 'user';
    // logoutOrigins are other origins: the browser says cross-site (or same-site), the Referer says which one.
    const extra = allowedOrigins.slice(1);
    return referer !== undefined && extra.length > 0 && extra.includes(originOf(referer) ?? '') ? 'same-origin' : 'cross-site';
  }
  if (referer !== undefined) return allowed(originOf(referer)) ? 'same-origin' : 'cross-site';
  return 'unknown';
}

/**
 * True for a request the browser made on its own, ahead of a click: a prefetch or prerender (Sec-Purpose, Fetch
 * §3.1; the older Purpose and X-Moz headers). A link the user has not clicked yet must not end their session, so
 * such a request never counts as a logout.
 * @private
 */
export function isSpeculative(req: Request): boolean {
  const purpose = `${req.get('sec-purpose') ?? ''} ${req.get('purpose') ?? ''} ${req.get('x-moz') ?? ''} ${req.get('x-purpose') ?? ''}`;
  return /prefetch|prerender|preview/i.test(purpose);
}
