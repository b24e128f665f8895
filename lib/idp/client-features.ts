/**
 * What the openid-client Configuration of an IdP needs beyond discovery for the second round of client security:
 * the client metadata (mTLS endpoint aliases, RFC 8705 §5), decryption of responses encrypted to the client
 * (clientEncryptionKeys), and for JARM a second Configuration that validates JWT authorization responses.
 *
 * Why a second Configuration for JARM: openid-client's useJwtResponseMode also makes every authorization request it
 * builds say `response_mode=jwt`, inside pushed and signed requests too, which would overwrite `form_post.jwt`. The
 * main Configuration therefore builds the requests with the configured response_mode, and only the callback's code
 * exchange uses the JARM one (responseConfiguration).
 */
import * as client from 'openid-client';
import { isJwtResponseMode } from '../config/client-security.js';
import type { ResolvedConfig } from '../config/schema.js';
import { decryptionKeys } from './jwe.js';
import { mtlsClientMetadata } from './mtls.js';

/** The client metadata openid-client is given for this configuration. @private */
export function clientMetadataFor(config: ResolvedConfig): Partial<client.ClientMetadata> {
  return {
    ...(config.clientSecret && { client_secret: config.clientSecret }),
    [client.clockTolerance]: config.clockTolerance,
    ...mtlsClientMetadata(config),
  };
}

const jarmTwins = new WeakMap<client.Configuration, client.Configuration>();

/**
 * Applies decryption and, for JARM, makes the callback's Configuration, once per discovery. `auth` is the
 * discovery's ClientAuth (the twin authenticates the code exchange the same way).
 * @private
 */
export async function enableClientFeatures(config: ResolvedConfig, configuration: client.Configuration, auth: client.ClientAuth): Promise<void> {
  const keys = config.encryptionKeys ? await decryptionKeys(config) : undefined;
  if (keys) client.enableDecryptingResponses(configuration, undefined, ...keys);
  if (!isJwtResponseMode(config.responseMode)) return;
  const twin = new client.Configuration(configuration.serverMetadata(), config.clientId, clientMetadataFor(config), auth);
  if (config.allowInsecureRequests) client.allowInsecureRequests(twin);
  const fetch = configuration[client.customFetch];
  if (fetch) twin[client.customFetch] = fetch;
  twin.timeout = configuration.timeout;
  client.useJwtResponseMode(twin);
  if (keys) client.enableDecryptingResponses(twin, undefined, ...keys);
  jarmTwins.set(configuration, twin);
}

/** The Configuration that processes authorization responses: the JARM one with a JWT response mode. @private */
export function responseConfiguration(configuration: client.Configuration): client.Configuration {
  return jarmTwins.get(configuration) ?? configuration;
}
