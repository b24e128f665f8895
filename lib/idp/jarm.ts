/**
 * JARM, the JWT Secured Authorization Response Mode (OpenID FAPI JARM §2.3, §2.4): the authorization response is
 * one JWT signed by the IdP, `response`, in the query (`jwt`, `query.jwt`) or in a form POST (`form_post.jwt`).
 *
 * It is verified before anything is read from it (§2.4): signature against the IdP's JWKS with an accepted
 * algorithm (never `none`), `iss` the configured issuer, `aud` this client, `exp` not passed. Only then is its
 * `state` used to find the login in progress. The code exchange afterwards goes through openid-client's own JARM
 * handling (useJwtResponseMode), which checks the same response once more. A response encrypted to the client
 * (JWE) is decrypted first with `clientEncryptionKeys`. Everything JOSE is jose's.
 */
import { compactDecrypt, decodeProtectedHeader, errors as joseErrors, importJWK } from 'jose';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, LoginStateError, findCause } from '../errors.js';
import { isAcceptedAlg, verifyIdpJwt } from './id-token.js';
import type { Provider } from './provider.js';

function invalid(detail: string, cause?: unknown): LoginStateError {
  return new LoginStateError('callback_invalid', 400, `The sign-in response (a signed JWT, JARM) was rejected: ${detail}. Start again.`, { cause });
}

/** The signed JWT inside a JWE the IdP encrypted to the client (JARM §2.2 "signed and encrypted"). */
async function decrypt(jwe: string, config: ResolvedConfig): Promise<string> {
  const keys = config.encryptionKeys ?? [];
  if (keys.length === 0) throw invalid('it is encrypted, but no clientEncryptionKeys are configured');
  try {
    const { plaintext } = await compactDecrypt(jwe, async (header) => {
      const key = keys.find((k) => (header.kid === undefined || k.kid === header.kid) && k.alg === header.alg);
      if (!key) throw new Error('no matching decryption key');
      return importJWK(key.jwk, key.alg);
    });
    return new TextDecoder().decode(plaintext);
  } catch (err) {
    throw invalid('it could not be decrypted with clientEncryptionKeys', err);
  }
}

/** A verification failure in words, never quoting the token. */
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `its "${err.claim}" claim is wrong (${err.reason === 'check_failed' ? 'not this app or issuer' : err.reason})`;
  if (err instanceof joseErrors.JWTExpired) return 'it has expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    return 'its signature does not verify with the identity provider\'s published keys';
  }
  return 'it is not a valid signed JWT';
}

/**
 * Verifies a JARM `response` and returns the authorization response parameters it carries (string claims, `aud`
 * excluded, as oauth4webapi reads them).
 * @throws {LoginStateError} `callback_invalid` for any failed check; IdpUnavailableError when the JWKS is unreachable.
 * @private
 */
export async function verifyJarmResponse(response: string, config: ResolvedConfig, provider: Provider): Promise<URLSearchParams> {
  const jws = response.split('.').length === 5 ? await decrypt(response, config) : response;
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(jws).alg;
  } catch (err) {
    throw invalid('it is not a JWT', err);
  }
  if (!isAcceptedAlg(alg, config)) throw invalid('it is signed with an algorithm that is not accepted (idTokenSigningAlgs)');
  let payload: Record<string, unknown>;
  try {
    payload = await verifyIdpJwt(jws, alg, config, provider, { issuer: config.issuer, audience: config.clientId, requiredClaims: ['exp'] });
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    throw invalid(describe(err), err);
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(payload)) if (typeof value === 'string' && key !== 'aud') params.set(key, value);
  return params;
}
