/**
 * UserInfo (OIDC Core §5.3): the claims the IdP serves to the holder of the access token, refused when they are
 * about anyone but the ID token's subject (§5.3.4).
 */
import * as client from 'openid-client';
import { IdpUnavailableError, TokenValidationError, findCause } from '../errors.js';
import type { StoredDpopKey } from '../types.js';
import { dpopOptions } from './dpop.js';
import type { Provider } from './provider.js';

/**
 * The UserInfo claims (OIDC Core §5.3) of the user the ID token is about, fetched with the access token.
 * @throws {TokenValidationError} `userinfo_invalid`; {IdpUnavailableError} for transport or response trouble.
 * @private
 */
export async function userinfoClaims(provider: Provider, accessToken: string, sub: string, dpop?: StoredDpopKey): Promise<Record<string, unknown>> {
  const configuration = await provider.get();
  try {
    // openid-client refuses a UserInfo response whose sub differs from the ID token's (OIDC Core §5.3.4).
    return await client.fetchUserInfo(configuration, accessToken, sub, await dpopOptions(configuration, dpop));
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
}
