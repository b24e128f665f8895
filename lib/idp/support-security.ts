/**
 * Discovery checks for the second round of client security (issue 14), as problems for assertIdpSupports
 * (support.ts): response modes (form_post, JARM), mutual TLS (RFC 8705 §2, §3.3, §5), request objects (RFC 9101
 * §10.5 and OpenID Connect Discovery `request_parameter_supported`), and encrypted responses (OIDC Discovery
 * `*_encryption_alg_values_supported`).
 */
import type * as client from 'openid-client';
import { MTLS_METHODS, isJwtResponseMode } from '../config/client-security.js';
import type { ResolvedConfig } from '../config/schema.js';

/** RFC 8414 §2: without `response_modes_supported` the IdP supports query and fragment. */
function responseModeProblem(config: ResolvedConfig, metadata: client.ServerMetadata): string | undefined {
  const mode = config.responseMode;
  if (mode === 'query') return undefined;
  const modes = metadata.response_modes_supported;
  if (modes ? !modes.includes(mode) : isJwtResponseMode(mode) && !metadata.authorization_signing_alg_values_supported) {
    return `responseMode "${mode}" (response_modes_supported: ${modes?.join(', ') ?? 'not published'})`;
  }
  return undefined;
}

function mtlsProblems(config: ResolvedConfig, metadata: client.ServerMetadata): string[] {
  if (!config.clientTls) return [];
  const problems: string[] = [];
  const token = metadata.mtls_endpoint_aliases?.token_endpoint ?? metadata.token_endpoint;
  if (MTLS_METHODS.includes(config.tokenEndpointAuthMethod) && !token?.startsWith('https:')) {
    problems.push('mutual TLS at the token endpoint (it is not https, and no mtls_endpoint_aliases are published)');
  }
  // FAPI 2.0 §5.3.2.1: without DPoP the certificate is the sender constraint, so the IdP must bind tokens to it.
  if (config.profile === 'fapi2' && !config.dpop && metadata.tls_client_certificate_bound_access_tokens !== true) {
    problems.push('certificate-bound access tokens, the sender constraint of profile "fapi2" without DPoP (tls_client_certificate_bound_access_tokens)');
  }
  return problems;
}

function requestObjectProblems(config: ResolvedConfig, metadata: client.ServerMetadata, pushed: boolean): string[] {
  if (!config.requestObject) return [];
  const problems: string[] = [];
  const algs = metadata.request_object_signing_alg_values_supported;
  if (!algs?.length) problems.push('requestObject (no request_object_signing_alg_values_supported)');
  else if (config.clientKey && !algs.includes(config.clientKey.alg)) {
    problems.push(`request objects signed with ${config.clientKey.alg} (it accepts ${algs.join(', ')}; set "alg" on clientPrivateKey)`);
  }
  // By value the IdP must take `request` at the authorization endpoint; a PAR endpoint takes it anyway (RFC 9126 §3).
  if (!pushed && metadata.request_parameter_supported !== true) {
    problems.push('requestObject by value (request_parameter_supported; or set pushedAuthorizationRequests)');
  }
  return problems;
}

function encryptionProblems(config: ResolvedConfig, metadata: client.ServerMetadata): string[] {
  const problems: string[] = [];
  if (config.requireEncrypted.includes('id_token') && !metadata.id_token_encryption_alg_values_supported?.length) {
    problems.push('encrypted ID tokens (no id_token_encryption_alg_values_supported)');
  }
  if (config.requireEncrypted.includes('userinfo') && !metadata.userinfo_encryption_alg_values_supported?.length) {
    problems.push('encrypted UserInfo responses (no userinfo_encryption_alg_values_supported)');
  }
  return problems;
}

/** The problems, each naming the option and the discovery field. @private */
export function clientSecurityProblems(config: ResolvedConfig, metadata: client.ServerMetadata, pushed: boolean): string[] {
  const mode = responseModeProblem(config, metadata);
  return [
    ...(mode ? [mode] : []),
    ...mtlsProblems(config, metadata),
    ...requestObjectProblems(config, metadata, pushed),
    ...encryptionProblems(config, metadata),
  ];
}
