/**
 * A bodiless redirect for the middleware's own hot redirects (login start, the unauthenticated bounce), whose
 * targets it builds itself already percent-encoded: a URL's `href`, or a path with an encodeURIComponent'd query.
 *
 * Why not `res.redirect()`: Express negotiates a text or HTML body for every redirect (res.format over the Accept
 * header), escapes the address into it and re-encodes the address; browsers follow the Location and never show
 * that body (RFC 9110 §15.4 makes it optional). The bench (bench/README.md) measured the bounce and the login start
 * above the baseline's CPU with it. A redirect to an address that came from outside (returnTo at the callback)
 * still goes through res.redirect(), which encodes it.
 */
import type { Response } from 'express';

/**
 * Ends `res` with `status` and `Location: location`, `Cache-Control: no-store`, and no body.
 * @param location an address that is already a valid, percent-encoded URI reference.
 * @private
 */
export function redirectNoStore(res: Response, status: 302 | 303, location: string): void {
  res.statusCode = status;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', '0');
  res.end();
}
