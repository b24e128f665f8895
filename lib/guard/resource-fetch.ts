/**
 * fetchWithToken(req, url, init): calls an API (a resource server) on behalf of the logged-in user with their
 * current access token, or with `audience` / `resource` / `scope`, with a token exchanged for it (RFC 8693,
 * token-exchange.ts). A DPoP-bound token is sent as `Authorization: DPoP <token>` with a fresh proof for this
 * method and URL (RFC 9449 §7), retried once when the resource server asks for a nonce (§9); a bearer token as
 * `Authorization: Bearer <token>` (RFC 6750 §2.1). A certificate-bound token travels over a connection that presents
 * the client certificate (RFC 8705 §3, idp/mtls.ts). openid-client builds the request and the proof.
 */
import type { Request } from 'express';
import * as client from 'openid-client';
import { UnauthenticatedError } from '../errors.js';
import { dpopOptions } from '../idp/dpop.js';
import { contextOf } from '../routes/context.js';
import { currentUser } from './current-user.js';
import { exchangeToken } from './token-exchange.js';

/** Options of {@link fetchWithToken}. @public */
export interface FetchWithTokenInit {
  /** HTTP method, default GET. */
  method?: string;
  /** Request body (a string, URLSearchParams, bytes or a stream). */
  body?: client.FetchBody;
  /** Extra request headers; `Authorization` and `DPoP` are set by the middleware. */
  headers?: Record<string, string> | Headers;
  /** Call with a token exchanged for this audience (RFC 8693) instead of the user's own access token. */
  audience?: string;
  /** Call with a token exchanged for this resource (RFC 8693, RFC 8707). */
  resource?: string;
  /** The scope of the exchanged token (with `audience` or `resource`). */
  scope?: string;
}

/**
 * Fetches `url` with the user's access token (refreshed first when it is about to expire), as DPoP or bearer; with
 * `audience`, `resource` or `scope`, with the token exchangeToken() returns for them.
 * @throws {UnauthenticatedError} (401) when the request has no logged-in user.
 * @throws {IdpUnavailableError} when a needed refresh or exchange cannot reach the IdP; {TokenExchangeError} when
 *   the IdP refuses the exchange.
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
  let token = { accessToken: user.tokens.accessToken, dpop: user.dpop !== undefined };
  if (init.audience !== undefined || init.resource !== undefined || init.scope !== undefined) {
    const exchanged = await exchangeToken(req, {
      ...(init.audience !== undefined && { audience: init.audience }),
      ...(init.resource !== undefined && { resource: init.resource }),
      ...(init.scope !== undefined && { scope: init.scope }),
    });
    token = { accessToken: exchanged.accessToken, dpop: exchanged.tokenType === 'DPoP' };
  }
  return client.fetchProtectedResource(
    configuration,
    token.accessToken,
    new URL(url),
    init.method ?? 'GET',
    init.body,
    headers,
    token.dpop ? await dpopOptions(configuration, user.dpop) : undefined,
  );
}
