/**
 * What the token endpoint answered (RFC 6749 §5.1), as the session keeps it: the access token with its scheme and
 * expiry, and the refresh token, ID token and scope, each carried over from the previous tokens when a refresh
 * response leaves it out (RFC 6749 §6). The ID token's `session_expiry` (IPSIE) is kept with them: it travels with
 * the tokens through a refresh (and the cross-instance refresh outcome) like the ID token it comes from.
 */
import type * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import { TokenValidationError } from '../errors.js';
import type { StoredTokens } from '../types.js';
import { authorizationScheme } from './dpop.js';

/**
 * The `session_expiry` claim of a validated ID token: a NumericDate (RFC 7519 §2), or undefined when absent.
 * @throws {TokenValidationError} `id_token_invalid` when present but not a NumericDate: fail closed rather than
 *   guess how long the upstream session lasts.
 * @private
 */
export function sessionExpiryClaim(claims: Record<string, unknown> | undefined): number | undefined {
  const value = claims?.session_expiry;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TokenValidationError('id_token_invalid', 401, "The ID token's session_expiry claim is not a valid time.");
  }
  return Math.floor(value);
}

/**
 * Converts a token endpoint response into what the session keeps. openid-client's responses carry `claims()`
 * (the validated ID token's claims), which is where `session_expiry` is read. `idToken` is the signed ID token when
 * the response carried an encrypted one (jwe.ts): the session keeps the decrypted JWS, which is what an
 * id_token_hint must be (OIDC RP-Initiated Logout §2).
 * @private
 */
export function toStoredTokens(
  tokens: client.TokenEndpointResponse & Partial<client.TokenEndpointResponseHelpers>,
  previous?: StoredTokens,
  idToken = tokens.id_token,
): StoredTokens {
  const stored: StoredTokens = { accessToken: tokens.access_token, tokenType: authorizationScheme(tokens.token_type) };
  const expiresIn = tokens.expires_in;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) stored.expiresAt = nowSeconds() + expiresIn;
  // A refresh response without a new refresh token means "keep using the old one" (RFC 6749 §6).
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
  if (refreshToken) stored.refreshToken = refreshToken;
  const keptIdToken = idToken ?? previous?.idToken;
  if (keptIdToken) stored.idToken = keptIdToken;
  const scope = tokens.scope ?? previous?.scope;
  if (scope) stored.scope = scope;
  // A refreshed ID token speaks for the upstream session now; without one, the last known end still holds.
  const sessionExpiry = (tokens.id_token && typeof tokens.claims === 'function' ? sessionExpiryClaim(tokens.claims()) : undefined) ?? previous?.sessionExpiry;
  if (sessionExpiry !== undefined) stored.sessionExpiry = sessionExpiry;
  return stored;
}
