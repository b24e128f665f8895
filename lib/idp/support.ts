/**
 * Checks, once per discovery, that the IdP supports what the configuration asks for, so a mismatch is one clear
 * error naming the option rather than an opaque failure halfway through a login. Discovery metadata: RFC 8414 §2,
 * RFC 9126 §5 (PAR), RFC 9449 §5.1 (DPoP), RFC 9207 §3 (iss); issue 14's options in support-security.ts.
 */
import type * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError } from '../errors.js';
import { clientSecurityProblems } from './support-security.js';

/** True when authorization requests go through PAR: configured, or required by the IdP (RFC 9126 §5). @private */
export function usesPar(config: ResolvedConfig, metadata: Readonly<client.ServerMetadata>): boolean {
  return config.pushedAuthorizationRequests || metadata.require_pushed_authorization_requests === true;
}

/**
 * Throws `idp_unsupported` (500: the app and the IdP registration disagree; retrying will not help) listing every
 * option the IdP's discovery document does not support.
 * @private
 */
export function assertIdpSupports(config: ResolvedConfig, metadata: client.ServerMetadata): void {
  const problems: string[] = [];
  const method = config.tokenEndpointAuthMethod;
  const methods = metadata.token_endpoint_auth_methods_supported;
  // RFC 8414 §2: an absent list means client_secret_basic only. Many IdPs omit it yet accept client_secret_post,
  // so the absent case is only held against the JWT methods, which no IdP supports silently.
  if (methods ? !methods.includes(method) : method.endsWith('_jwt')) {
    problems.push(
      `tokenEndpointAuthMethod "${method}" (token_endpoint_auth_methods_supported: ${methods?.join(', ') ?? 'not published'})`,
    );
  }
  const signingAlgs = metadata.token_endpoint_auth_signing_alg_values_supported;
  if (method === 'private_key_jwt' && config.clientKey && signingAlgs && !signingAlgs.includes(config.clientKey.alg)) {
    problems.push(`client assertions signed with ${config.clientKey.alg} (it accepts ${signingAlgs.join(', ')}; set "alg" on clientPrivateKey)`);
  }
  if (usesPar(config, metadata) && !metadata.pushed_authorization_request_endpoint) {
    problems.push('pushedAuthorizationRequests (no pushed_authorization_request_endpoint)');
  }
  if (config.dpop && !metadata.dpop_signing_alg_values_supported?.length) {
    problems.push('dpop (no dpop_signing_alg_values_supported)');
  }
  problems.push(...clientSecurityProblems(config, metadata, usesPar(config, metadata)));
  if (config.profile === 'fapi2' && metadata.authorization_response_iss_parameter_supported !== true) {
    problems.push('the RFC 9207 iss response parameter that profile "fapi2" requires (authorization_response_iss_parameter_supported)');
  }
  if (problems.length > 0) {
    throw new IdpUnavailableError(
      'idp_unsupported',
      500,
      `Sign-in is misconfigured: the identity provider (${config.issuer}) does not support ${problems.join('; ')}. ` +
        'Change these options or the client registration at the identity provider.',
    );
  }
}
