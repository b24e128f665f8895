/**
 * Responses the IdP encrypts to the client (`clientEncryptionKeys`): ID tokens (OIDC Core §10.2) and UserInfo
 * responses (§5.3.2). openid-client decrypts them (jose) with the keys imported here, then validates them as usual;
 * this module adds what openid-client leaves to the caller: a response that arrives unencrypted although the client
 * registered encryption is refused (it could have been read on the way, or the registration is not what the app
 * expects), and the inner signed JWT is what the ID token signature check and the session see (OIDC RP-Initiated
 * Logout §2: the id_token_hint is the decrypted, signed ID token).
 */
import { importJWK } from 'jose';
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { TokenValidationError } from '../errors.js';

/** openid-client's DecryptionKeys for the configuration's `clientEncryptionKeys` (non-extractable). @private */
export async function decryptionKeys(config: ResolvedConfig): Promise<client.DecryptionKey[]> {
  return Promise.all(
    (config.encryptionKeys ?? []).map(async ({ jwk, alg, kid }) => {
      const key = await importJWK(jwk, alg, { extractable: false });
      if (!(key instanceof CryptoKey)) throw new TypeError('clientEncryptionKeys: a key did not import as a CryptoKey');
      return { key, alg, ...(kid !== undefined && { kid }) };
    }),
  );
}

/** The inner signed ID token openid-client decrypted from a token response, if it was encrypted. */
function decryptedIdToken(response: client.TokenEndpointResponse): string | undefined {
  const decrypted = client.getDecryptedResponses(response);
  return typeof decrypted === 'string' ? decrypted : decrypted?.id_token?.token_endpoint;
}

/**
 * The signed ID token of a token response (login or refresh): the decrypted one when it came encrypted, the
 * token itself otherwise. Undefined when the response has none.
 * @throws {TokenValidationError} `id_token_invalid` when it came unencrypted although encryption is required.
 * @private
 */
export function signedIdToken(config: ResolvedConfig, response: client.TokenEndpointResponse): string | undefined {
  if (!response.id_token) return undefined;
  const inner = decryptedIdToken(response);
  if (inner === undefined && config.requireEncrypted.includes('id_token')) {
    throw new TokenValidationError(
      'id_token_invalid',
      401,
      'The identity provider\'s ID token was rejected: it is not encrypted, although this app registered ID token ' +
        'encryption (clientEncryptionKeys). Check id_token_encrypted_response_alg in the client registration.',
    );
  }
  return inner ?? response.id_token;
}

/**
 * The inner signed JWT of a UserInfo response openid-client decrypted, or undefined when it was not encrypted.
 * @throws {TokenValidationError} `userinfo_invalid` when it was not encrypted although encryption is required.
 * @private
 */
export function decryptedUserinfo(config: ResolvedConfig, userinfo: client.UserInfoResponse): string | undefined {
  const inner = client.getDecryptedResponses(userinfo);
  if (typeof inner === 'string') return inner;
  if (config.requireEncrypted.includes('userinfo')) {
    throw new TokenValidationError(
      'userinfo_invalid',
      401,
      'The identity provider\'s UserInfo response was refused: it is not encrypted, although this app registered ' +
        'UserInfo encryption (encryptedResponses). Check userinfo_encrypted_response_alg in the client registration.',
    );
  }
  return undefined;
}
