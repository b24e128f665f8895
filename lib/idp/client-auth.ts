/**
 * How the app authenticates to the token endpoint: a shared secret (`client_secret_basic`, `client_secret_post`,
 * `client_secret_jwt`), an asymmetric key (`private_key_jwt`, RFC 7523 §2.2) or the TLS client certificate
 * (`tls_client_auth`, `self_signed_tls_client_auth`, RFC 8705 §2; the certificate itself is presented by
 * idp/mtls.ts). The assertions are built and signed by openid-client; this module only picks its ClientAuth and
 * imports the key parsed by config/client-key.ts as a non-extractable CryptoKey (jose), which also signs request
 * objects (JAR, idp/authorization-request.ts).
 */
import { importJWK } from 'jose';
import * as client from 'openid-client';
import type { ClientKey, TokenEndpointAuthMethod } from '../config/client-key.js';

const imported = new WeakMap<ClientKey, Promise<client.PrivateKey>>();

/** The client's signing key as openid-client takes it: a non-extractable CryptoKey and its kid. @private */
export function clientSigningKey(clientKey: ClientKey): Promise<client.PrivateKey> {
  let key = imported.get(clientKey);
  if (!key) {
    key = importJWK(clientKey.jwk, clientKey.alg, { extractable: false }).then((k) => {
      if (!(k instanceof CryptoKey)) throw new TypeError('clientPrivateKey did not import as a CryptoKey');
      return { key: k, kid: clientKey.kid };
    });
    imported.set(clientKey, key);
  }
  return key;
}

/** The part of the configuration that decides client authentication. @private */
export interface ClientAuthConfig {
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientSecret?: string | undefined;
  clientKey?: ClientKey | undefined;
  clientId?: string;
  /** A secret made on demand (Apple): asked before each authenticated call, so it may renew itself. */
  makeClientSecret?: ((clientId: string) => Promise<string>) | undefined;
}

/**
 * The openid-client ClientAuth for the configured method; imports the private key with jose (non-extractable).
 * @private
 */
export async function clientAuthFor(config: ClientAuthConfig): Promise<client.ClientAuth> {
  const make = config.makeClientSecret;
  if (make && (config.tokenEndpointAuthMethod === 'client_secret_post' || config.tokenEndpointAuthMethod === 'client_secret_basic')) {
    const method = config.tokenEndpointAuthMethod === 'client_secret_post' ? client.ClientSecretPost : client.ClientSecretBasic;
    // oauth4webapi awaits the ClientAuth, so the secret can be made (or renewed) right before each request.
    const auth = async (as: client.ServerMetadata, c: client.ClientMetadata, body: URLSearchParams, headers: Headers): Promise<void> => {
      method(await make(config.clientId ?? String(c.client_id)))(as, c, body, headers);
    };
    // openid-client types ClientAuth as returning void, but awaits it (its own PrivateKeyJwt is async too).
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    return auth;
  }
  switch (config.tokenEndpointAuthMethod) {
    case 'private_key_jwt':
      return client.PrivateKeyJwt(await clientSigningKey(config.clientKey!));
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      // Sends client_id in the body; the certificate on the connection authenticates (RFC 8705 §2).
      return client.TlsClientAuth();
    case 'client_secret_jwt':
      return client.ClientSecretJwt(config.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    default:
      // openid-client defaults to client_secret_post; we choose explicitly so the IdP sees what it registered.
      return client.ClientSecretBasic(config.clientSecret);
  }
}

