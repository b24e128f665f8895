/**
 * fetchWithToken(req, url, init): calls an API (a resource server) on behalf of the logged-in user with their
 * current access token. A DPoP-bound token is sent as `Authorization: DPoP <token>` with a fresh proof for this
 * method and URL (RFC 9449 §7), retried once when the resource server asks for a nonce (§9); a bearer token as
 * `Authorization: Bearer <token>` (RFC 6750 §2.1). openid-client builds the request and the proof.
 */
import type { Request } from 'express';
import * as client from 'openid-client';
import { UnauthenticatedError } from '../errors.js';
import { dpopOptions } from '../idp/dpop.js';
import { contextOf } from '../routes/context.js';
import { currentUser } from './current-user.js';

/** Options of {@link fetchWithToken}. @public */
export interface FetchWithTokenInit {
  /** HTTP method, default GET. */
  method?: string;
  /** Request body (a string, URLSearchParams, bytes or a stream). */
  body?: client.FetchBody;
  /** Extra request headers; `Authorization` and `DPoP` are set by the middleware. */
  headers?: Record<string, string> | Headers;
}

/**
 * Fetches `url` with the user's access token (refreshed first when it is about to expire), as DPoP or bearer.
 * @throws {UnauthenticatedError} (401) when the request has no logged-in user.
 * @throws {IdpUnavailableError} when a needed refresh cannot reach the IdP.
 * @public
 */
export async function fetchWithToken(req: Request, url: string | URL, init: FetchWithTokenInit = {}): Promise<Response> {
  const ctx = contextOf(req);
  const user = await currentUser(req);
  if (!user) throw new UnauthenticatedError();
  const configuration = await ctx.provider.get();
  const headers = new Headers(init.headers);
  headers.delete('authorization');
  headers.delete('dpop');
  return client.fetchProtectedResource(
    configuration,
    user.tokens.accessToken,
    new URL(url),
    init.method ?? 'GET',
    init.body,
    headers,
    await dpopOptions(configuration, user.dpop),
  );
}
