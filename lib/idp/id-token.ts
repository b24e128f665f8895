/**
 * Checks on the ID token that openid-client leaves to the caller, applied after its own claim validation (iss,
 * aud, azp, exp, nonce): the signature, verified against the IdP's JWKS (OIDC Core §3.1.3.7 step 6); the signing
 * algorithm must be one we accept (never `none`, HMAC with the client secret only when configured); `iat` must not
 * lie in the future.
 */
import { type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, TokenValidationError, findCause } from '../errors.js';
import type { JwtSource, Provider } from './provider.js';
import { nowSeconds } from '../clock.js';

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

/** True when `alg` is one the app accepts for JWTs the IdP signs (never `none`; see idTokenSigningAlgs). @private */
export function isAcceptedAlg(alg: unknown, config: ResolvedConfig): alg is string {
  return typeof alg === 'string' && alg !== 'none' && config.idTokenSigningAlgs.includes(alg);
}

/**
 * Verifies a JWT the IdP signed (ID token, logout token) with the IdP's keys, or, for an explicitly allowed HS*
 * algorithm, with the client secret; `alg` must have passed {@link isAcceptedAlg}. `source` says who handed the app
 * the JWT, which decides how soon an unknown kid may refetch the keys (see JwtSource in provider.ts). jose's errors
 * pass through for the caller to word; a JWKS transport failure surfaces as IdpUnavailableError in the cause chain.
 * @private
 */
export async function verifyIdpJwt(
  jwt: string,
  alg: string,
  config: ResolvedConfig,
  provider: Provider,
  options: JWTVerifyOptions = {},
  source: JwtSource = 'anyone',
): Promise<JWTPayload> {
  const all = { algorithms: config.idTokenSigningAlgs, clockTolerance: config.clockTolerance, ...options };
  if (!alg.startsWith('HS')) return (await jwtVerify(jwt, await provider.keys(source), all)).payload;
  // config.ts only lets HS* into idTokenSigningAlgs together with a clientSecret.
  if (!config.clientSecret) throw new Error(`alg "${alg}" needs a clientSecret`);
  return (await jwtVerify(jwt, new TextEncoder().encode(config.clientSecret), all)).payload;
}

/**
 * Verifies the ID token's signature and algorithm (OIDC Core §3.1.3.7 steps 6-8).
 * @throws {TokenValidationError} on a bad signature or algorithm; IdpUnavailableError when the JWKS is unreachable.
 * @private
 */
export async function verifyIdTokenSignature(idToken: string, config: ResolvedConfig, provider: Provider): Promise<void> {
  const { alg } = joseHeader(idToken);
  if (!isAcceptedAlg(alg, config)) {
    throw invalid(`it is signed with alg "${clean(alg)}", which is not accepted (idTokenSigningAlgs)`);
  }
  try {
    // ID tokens come from the token endpoint only: an unknown kid is a key rotation and may refetch the keys at once.
    await verifyIdpJwt(idToken, alg, config, provider, {}, 'idp');
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    throw invalid('its signature does not verify with the identity provider\'s published keys');
  }
}

/**
 * Applies our checks to an ID token whose claims openid-client validated, and returns the claims worth storing.
 * @throws {TokenValidationError}
 * @private
 */
export async function acceptIdToken(
  idToken: string | undefined,
  claims: Record<string, unknown> | undefined,
  config: ResolvedConfig,
  provider: Provider,
): Promise<Record<string, unknown>> {
  if (!idToken || !claims) throw invalid('the token response has no ID token');
  await verifyIdTokenSignature(idToken, config, provider);
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds() + config.clockTolerance) {
    throw invalid('it was issued in the future (check the clocks, or clockTolerance)');
  }
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw invalid('it has no subject (sub)');
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !PROTOCOL_CLAIMS.includes(k)));
}

function clean(v: unknown): string {
  return String(v).replace(/[^\w.-]/g, '').slice(0, 16);
}
