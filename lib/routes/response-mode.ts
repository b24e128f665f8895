/**
 * How the authorization response reaches the callback (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
 * OAuth 2.0 Form Post Response Mode, JARM §2.3): in the query string of a GET (default), with `form_post` in the
 * body of a POST that the IdP's page submits (which keeps the code out of the URL, history and logs), or as one JWT
 * signed by the IdP (`jwt`, `query.jwt` in the query; `form_post.jwt` in a POST), verified before anything is read
 * from it (idp/jarm.ts).
 *
 * The IdP's POST is a cross-site request, on which browsers do not send a SameSite=Lax session cookie: the
 * callback then relays the response to itself once, same-site (form-post-relay.ts), so Lax cookies keep working.
 */
import express, { type Request, type RequestHandler, type Router } from 'express';
import { isFormPostMode, isJwtResponseMode } from '../config/client-security.js';
import { LoginStateError, passError } from '../errors.js';
import { verifyJarmResponse } from '../idp/jarm.js';
import type { Context } from './context.js';
import { formPostRelay } from './form-post-relay.js';

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

/** The authorization response as received (`url`, for openid-client) and its verified parameters (`params`). @private */
export interface AuthorizationResponse {
  url: URL;
  params: URLSearchParams;
}

/**
 * Reads the authorization response of a callback request. With a JARM response mode the parameters come from the
 * `response` JWT, after its signature, issuer, audience and expiry have been verified.
 * @throws {LoginStateError} `callback_invalid` when a JARM response is missing or fails verification.
 * @private
 */
export async function authorizationResponse(req: Request, ctx: Context): Promise<AuthorizationResponse> {
  const url = new URL(ctx.config.redirectUri);
  url.search = responseSearch(req);
  if (!isJwtResponseMode(ctx.config.responseMode)) return { url, params: url.searchParams };
  const jwt = url.searchParams.get('response');
  if (!jwt) {
    throw new LoginStateError('callback_invalid', 400, 'The sign-in response has no "response" JWT, which this app expects (JARM). Start again.');
  }
  return { url, params: await verifyJarmResponse(jwt, ctx.config, ctx.provider) };
}

/** A callback request in the wrong shape for the response mode: refused before any state is consumed. */
function wrongMethod(mode: string): RequestHandler {
  return (req, res, next) => {
    res.set(CALLBACK_HEADERS);
    passError(req, next, new LoginStateError('callback_invalid', 400, `This app expects the sign-in response as a form POST (responseMode "${mode}"). Start again.`));
  };
}

/** The callback's headers, before the body is even parsed. */
const callbackHeaders: RequestHandler = (_req, res, next) => {
  res.set(CALLBACK_HEADERS);
  next();
};

/**
 * Mounts the callback route for the configured response mode: GET for query and the query JWT modes; POST (with a
 * body parser on this route only, small limits, then the same-site relay) for the form_post modes, where a GET is
 * refused.
 * @private
 */
export function mountCallback(router: Router, ctx: Context, handler: RequestHandler): void {
  const path = ctx.config.routes.callback;
  if (!isFormPostMode(ctx.config.responseMode)) {
    router.get(path, handler);
    return;
  }
  router.post(path, callbackHeaders, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), formPostRelay(ctx), handler);
  router.get(path, wrongMethod(ctx.config.responseMode));
}
