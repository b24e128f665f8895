/**
 * What the token endpoint answered (RFC 6749 §5.1), as the session keeps it: the access token with its scheme and
 * expiry, and the refresh token, ID token and scope, each carried over from the previous tokens when a refresh
 * response leaves it out (RFC 6749 §6).
 */
import type * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import type { StoredTokens } from '../types.js';
import { authorizationScheme } from './dpop.js';

/**
 * Converts a token endpoint response into what the session keeps. `idToken` is the signed ID token when the
 * response carried an encrypted one (jwe.ts): the session keeps the decrypted JWS, which is what an id_token_hint
 * must be (OIDC RP-Initiated Logout §2).
 * @private
 */
export function toStoredTokens(tokens: client.TokenEndpointResponse, previous?: StoredTokens, idToken = tokens.id_token): StoredTokens {
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
  return stored;
}
