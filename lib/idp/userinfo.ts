/**
 * UserInfo (OIDC Core §5.3): the claims the IdP serves to the holder of the access token, refused when they are
 * about anyone but the ID token's subject (§5.3.4). A response encrypted to the client (§5.3.2, clientEncryptionKeys)
 * is decrypted by openid-client; its inner signed JWT is then verified against the IdP's keys like an ID token.
 */
import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, TokenValidationError, findCause } from '../errors.js';
import type { StoredDpopKey } from '../types.js';
import { dpopOptions } from './dpop.js';
import { isAcceptedAlg, verifyIdpJwt } from './id-token.js';
import { decryptedUserinfo } from './jwe.js';
import type { Provider } from './provider.js';

/** OIDC Core §5.3.2: a signed UserInfo response is validated like the ID token's signature (JWS, the IdP's keys). */
async function verifySignedUserinfo(jwt: string, config: ResolvedConfig, provider: Provider): Promise<void> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(jwt).alg;
  } catch {
    alg = undefined;
  }
  try {
    if (!isAcceptedAlg(alg, config)) throw new Error('algorithm not accepted');
    await verifyIdpJwt(jwt, alg, config, provider, {}, 'idp');
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    throw new TokenValidationError(
      'userinfo_invalid',
      401,
      'The identity provider\'s UserInfo response was refused: its signature does not verify with the identity provider\'s keys (or its algorithm is not accepted). Start again.',
      { cause: err },
    );
  }
}

/**
 * The UserInfo claims (OIDC Core §5.3) of the user the ID token is about, fetched with the access token.
 * @throws {TokenValidationError} `userinfo_invalid`; {IdpUnavailableError} for transport or response trouble.
 * @private
 */
export async function userinfoClaims(
  config: ResolvedConfig,
  provider: Provider,
  accessToken: string,
  sub: string,
  dpop?: StoredDpopKey,
): Promise<Record<string, unknown>> {
  const configuration = await provider.get();
  let claims: client.UserInfoResponse;
  try {
    // openid-client refuses a UserInfo response whose sub differs from the ID token's (OIDC Core §5.3.4).
    claims = await client.fetchUserInfo(configuration, accessToken, sub, await dpopOptions(configuration, dpop));
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    // oauth4webapi's error codes, which openid-client keeps on the errors it throws.
    const code = (err as { code?: unknown }).code;
    if (err instanceof client.ResponseBodyError || ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'].includes(String(code))) {
      throw new IdpUnavailableError(
        'idp_bad_response',
        502,
        'The identity provider\'s UserInfo endpoint answered with an error or something that is not JSON claims. Please try again later.',
        { cause: err },
      );
    }
    throw new TokenValidationError(
      'userinfo_invalid',
      401,
      code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED'
        ? 'The identity provider\'s UserInfo response is about a different user than the ID token. Start again.'
        : 'The identity provider\'s UserInfo response was refused (its claims are invalid). Start again.',
      { cause: err },
    );
  }
  const signed = decryptedUserinfo(config, claims);
  if (!signed) return claims;
  await verifySignedUserinfo(signed, config, provider);
  // The JWT's own claims are about the response, not the user.
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !['aud', 'exp', 'iat', 'nbf', 'jti'].includes(k)));
}
