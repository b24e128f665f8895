/**
 * How the app authenticates to the token endpoint: a shared secret (`client_secret_basic`, `client_secret_post`,
 * `client_secret_jwt`) or an asymmetric key (`private_key_jwt`, RFC 7523 §2.2). The assertions themselves are built
 * and signed by openid-client; this module only picks its ClientAuth and imports the key parsed by
 * config/client-key.ts as a non-extractable CryptoKey (jose).
 */
import { importJWK } from 'jose';
import * as client from 'openid-client';
import type { ClientKey, TokenEndpointAuthMethod } from '../config/client-key.js';

/** The part of the configuration that decides client authentication. @private */
export interface ClientAuthConfig {
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientSecret?: string | undefined;
  clientKey?: ClientKey | undefined;
}

/**
 * The openid-client ClientAuth for the configured method; imports the private key with jose (non-extractable).
 * @private
 */
export async function clientAuthFor(config: ClientAuthConfig): Promise<client.ClientAuth> {
  switch (config.tokenEndpointAuthMethod) {
    case 'private_key_jwt': {
      const { jwk, kid, alg } = config.clientKey!;
      const key = await importJWK(jwk, alg, { extractable: false });
      if (!(key instanceof CryptoKey)) throw new TypeError('clientPrivateKey did not import as a CryptoKey');
      return client.PrivateKeyJwt({ key, kid });
    }
    case 'client_secret_jwt':
      return client.ClientSecretJwt(config.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    default:
      // openid-client defaults to client_secret_post; we choose explicitly so the IdP sees what it registered.
      return client.ClientSecretBasic(config.clientSecret);
  }
}

