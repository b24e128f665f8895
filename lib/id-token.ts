/**
 * Checks on the ID token that openid-client leaves to the caller, applied after its own validation (signature
 * via JWKS, iss, aud, azp, exp, nonce): the signing algorithm must be one we accept (never `none`, never HMAC
 * with the client secret unless configured), and `iat` must not lie in the future (OIDC Core §3.1.3.7).
 */
import type { ResolvedConfig } from './config.js';
import { TokenValidationError } from './errors.js';
import { nowSeconds } from './session-state.js';

/** Claims that only serve validation: not worth the session bytes. */
const PROTOCOL_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash', 'exp', 'iat', 'nbf', 'aud', 'azp', 'jti'];

function invalid(detail: string): TokenValidationError {
  return new TokenValidationError('id_token_invalid', 401, `The identity provider's ID token was rejected: ${detail}.`);
}

/** The JOSE header of a compact JWS, without verifying anything. */
function joseHeader(jwt: string): { alg?: unknown } {
  try {
    const header: unknown = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? header : {};
  } catch {
    return {};
  }
}

/**
 * Applies our checks to an already validated ID token and returns the claims worth storing.
 * @throws {TokenValidationError}
 * @private
 */
export function acceptIdToken(
  idToken: string | undefined,
  claims: Record<string, unknown> | undefined,
  config: ResolvedConfig,
): Record<string, unknown> {
  if (!idToken || !claims) throw invalid('the token response has no ID token');
  const { alg } = joseHeader(idToken);
  if (typeof alg !== 'string' || alg === 'none' || !config.idTokenSigningAlgs.includes(alg)) {
    throw invalid(`it is signed with alg "${clean(alg)}", which is not accepted (idTokenSigningAlgs)`);
  }
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds() + config.clockTolerance) {
    throw invalid('it was issued in the future (check the clocks, or clockTolerance)');
  }
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw invalid('it has no subject (sub)');
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !PROTOCOL_CLAIMS.includes(k)));
}

function clean(v: unknown): string {
  return String(v).replace(/[^\w.-]/g, '').slice(0, 16);
}
