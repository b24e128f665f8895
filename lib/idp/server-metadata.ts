/**
 * An OAuth 2.0 server without metadata: the `server` option's endpoints become the openid-client Configuration that
 * discovery would otherwise have produced (field names of RFC 8414 §2), so nothing downstream knows the difference.
 * No request is made here. After discovery of an OAuth 2.0 login (either algorithm), the profile source is checked
 * once: without a userProfile url or function, the metadata must name a userinfo endpoint.
 */
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError } from '../errors.js';
import { clientMetadataFor } from './client-features.js';

/** The RFC 8414 metadata the `server` option stands for. @private */
export function serverMetadataOf(config: ResolvedConfig): client.ServerMetadata {
  const s = config.server!;
  return {
    issuer: config.issuer,
    authorization_endpoint: s.authorizationEndpoint,
    token_endpoint: s.tokenEndpoint,
    ...(s.userinfoEndpoint !== undefined && { userinfo_endpoint: s.userinfoEndpoint }),
    ...(s.revocationEndpoint !== undefined && { revocation_endpoint: s.revocationEndpoint }),
    ...(s.endSessionEndpoint !== undefined && { end_session_endpoint: s.endSessionEndpoint }),
    // PKCE S256 is always sent (RFC 9700 §2.1.1); a server that ignores it loses nothing by being told.
    code_challenge_methods_supported: ['S256'],
  };
}

/**
 * The Configuration for `server`, set up as client.discovery() would have (fetch, timeout, insecure requests).
 * @private
 */
export function configurationFromServer(
  config: ResolvedConfig,
  auth: client.ClientAuth,
  options: { fetch: client.CustomFetch; timeout: number },
): client.Configuration {
  const configuration = new client.Configuration(serverMetadataOf(config), config.clientId, clientMetadataFor(config), auth);
  if (config.allowInsecureRequests) client.allowInsecureRequests(configuration);
  configuration[client.customFetch] = options.fetch;
  configuration.timeout = options.timeout;
  return configuration;
}

/**
 * An OAuth 2.0 login needs somewhere to learn who the user is: a userProfile url or function, else the
 * discovered userinfo endpoint. Throws `idp_unsupported` (500: a setup problem, retrying will not help).
 * @private
 */
export function assertProfileSource(config: ResolvedConfig, metadata: client.ServerMetadata): void {
  if (config.protocol !== 'oauth2') return;
  const profile = config.userProfile;
  if (typeof profile === 'function' || profile?.url !== undefined || metadata.userinfo_endpoint) return;
  throw new IdpUnavailableError(
    'idp_unsupported',
    500,
    `Sign-in is misconfigured: the identity provider (${config.issuer}) publishes no userinfo_endpoint, so an OAuth 2.0 login cannot learn who the user is. ` +
      'Set userProfile: { url } (or a userProfile function).',
  );
}
