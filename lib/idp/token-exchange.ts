/**
 * Token exchange (RFC 8693): the user's access token (the subject token, §2.1) is exchanged at the IdP's token
 * endpoint for a token meant for one downstream API (`audience`, `resource`, `scope`). openid-client makes the
 * request (with the client's authentication, and a DPoP proof or the TLS client certificate when the user's tokens
 * are bound) and checks the response; this module maps the outcome.
 */
import * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, TokenExchangeError, findCause } from '../errors.js';
import type { StoredDpopKey, StoredExchangedToken } from '../types.js';
import { authorizationScheme, dpopOptions } from './dpop.js';
import type { Provider } from './provider.js';

/** RFC 8693 §2.1 grant type and §3 token type identifiers. @private */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** What a token exchange asks for (RFC 8693 §2.1). @public */
export interface TokenExchangeRequest {
  /** The logical name of the downstream service (`audience`). */
  audience?: string;
  /** The URI of the downstream resource (`resource`, RFC 8707). */
  resource?: string;
  /** The scope wanted for the downstream call. */
  scope?: string;
  /** `requested_token_type`, default the IdP's choice (usually an access token). */
  requestedTokenType?: string;
}

/** Without `expires_in` an exchanged token is kept at most this long (or as long as the subject token lives). */
const DEFAULT_LIFETIME = 300;

function clean(text: unknown): string {
  return typeof text === 'string' ? text.replace(/[^\x20-\x7e]/g, '').slice(0, 64) : '';
}

/**
 * Exchanges `subjectToken` (the user's current access token, which expires at `subjectExpiresAt`) for a token
 * for the downstream API described by `request`.
 * @throws {TokenExchangeError} (502) when the IdP refuses; IdpUnavailableError when it cannot be reached or does
 *   not offer the grant (`idp_unsupported`).
 * @private
 */
export async function exchangeGrant(
  config: ResolvedConfig,
  provider: Provider,
  subjectToken: { accessToken: string; expiresAt?: number; dpop?: StoredDpopKey | undefined },
  request: TokenExchangeRequest,
): Promise<StoredExchangedToken> {
  const configuration = await provider.get();
  const grants = configuration.serverMetadata().grant_types_supported;
  if (grants && !grants.includes(TOKEN_EXCHANGE_GRANT)) {
    throw new IdpUnavailableError(
      'idp_unsupported',
      500,
      `Token exchange is misconfigured: the identity provider (${config.issuer}) does not offer the token exchange grant (grant_types_supported).`,
    );
  }
  const params: Record<string, string> = { subject_token: subjectToken.accessToken, subject_token_type: ACCESS_TOKEN_TYPE };
  if (request.audience !== undefined) params.audience = request.audience;
  if (request.resource !== undefined) params.resource = request.resource;
  if (request.scope !== undefined) params.scope = request.scope;
  if (request.requestedTokenType !== undefined) params.requested_token_type = request.requestedTokenType;
  let response: client.TokenEndpointResponse;
  try {
    response = await client.genericGrantRequest(configuration, TOKEN_EXCHANGE_GRANT, params, await dpopOptions(configuration, subjectToken.dpop));
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    const code =
      err instanceof client.ResponseBodyError
        ? clean(err.error)
        : err instanceof client.WWWAuthenticateChallengeError
          ? clean(err.cause.find((c) => c.parameters.error)?.parameters.error)
          : '';
    throw new TokenExchangeError(
      code || 'invalid_response',
      `The identity provider refused to exchange the sign-in for a token for the requested API (${code || 'unusable response'}). ` +
        'Check the audience, resource or scope and what the client may ask for at the identity provider.',
      { cause: err },
    );
  }
  const now = nowSeconds();
  const lifetime = typeof response.expires_in === 'number' && Number.isFinite(response.expires_in) ? response.expires_in : undefined;
  const issued = typeof response.issued_token_type === 'string' ? response.issued_token_type : (request.requestedTokenType ?? ACCESS_TOKEN_TYPE);
  return {
    accessToken: response.access_token,
    tokenType: response.token_type === 'n_a' ? 'N_A' : authorizationScheme(response.token_type),
    issuedTokenType: issued,
    expiresAt: lifetime !== undefined ? now + lifetime : Math.min(subjectToken.expiresAt ?? Infinity, now + DEFAULT_LIFETIME),
    ...(typeof response.scope === 'string' && { scope: response.scope }),
  };
}
