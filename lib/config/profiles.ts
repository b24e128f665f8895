/**
 * Security profiles: one option that switches on a set of settings and refuses weaker ones.
 *
 * `fapi2` is the client side of the FAPI 2.0 Security Profile (final, 2025): pushed authorization requests
 * (§5.3.2.2), PKCE S256 (always on here), client authentication with private_key_jwt or mutual TLS (§5.3.2.1:
 * `tls_client_auth`, `self_signed_tls_client_auth`), sender-constrained tokens with DPoP or mTLS (§5.3.2.1:
 * certificate-bound tokens, RFC 8705 §3, when `clientCertificate` is given), the RFC 9207 `iss` response parameter
 * (§5.3.2.2, checked against discovery in idp/support.ts), and PS256/ES256/EdDSA signatures only (§5.4.1).
 */

/** Security profiles. @public */
export const PROFILES = ['fapi2'] as const;

/** FAPI 2.0 §5.4.1: the only JWS algorithms allowed. */
export const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519'];

/** FAPI 2.0 §5.3.2.1: the client authentication methods allowed. */
const FAPI2_AUTH_METHODS = ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

/** What a profile sets when the option is left out. */
const FAPI2_DEFAULTS: Record<string, unknown> = {
  tokenEndpointAuthMethod: 'private_key_jwt',
  pushedAuthorizationRequests: true,
  dpop: true,
  idTokenSigningAlgs: FAPI2_ALGS,
};

/** Fills unset options with the profile's settings (before validation, so explicit weaker ones are seen). @private */
export function applyProfileDefaults(raw: Record<string, unknown>): void {
  if (raw.profile !== 'fapi2') return;
  for (const [field, value] of Object.entries(FAPI2_DEFAULTS)) {
    // With a client certificate the tokens are bound to it (mTLS): DPoP becomes optional, not the default.
    if (field === 'dpop' && raw.clientCertificate !== undefined) continue;
    if (raw[field] === undefined) raw[field] = value;
  }
}

/** The settings a profile checks. @private */
export interface ProfileChecked {
  profile?: string | undefined;
  tokenEndpointAuthMethod: string;
  pushedAuthorizationRequests: boolean;
  dpop: boolean;
  idTokenSigningAlgs: string[];
  clientAssertionAlg?: string | undefined;
  /** A clientCertificate is configured: tokens are certificate-bound (RFC 8705 §3). */
  mtlsBound?: boolean;
}

/** Problems (field, message) with settings weaker than the profile allows. @private */
export function profileIssues(c: ProfileChecked): Array<{ path: string; message: string }> {
  if (c.profile !== 'fapi2') return [];
  const why = 'profile "fapi2" (FAPI 2.0 Security Profile)';
  const issues: Array<{ path: string; message: string }> = [];
  if (!FAPI2_AUTH_METHODS.includes(c.tokenEndpointAuthMethod)) {
    issues.push({
      path: 'tokenEndpointAuthMethod',
      message: `tokenEndpointAuthMethod must be "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth" with ${why}; remove the option or set one of them`,
    });
  }
  if (!c.pushedAuthorizationRequests) {
    issues.push({ path: 'pushedAuthorizationRequests', message: `pushedAuthorizationRequests cannot be false with ${why}: remove the option` });
  }
  if (!c.dpop && !c.mtlsBound) {
    issues.push({
      path: 'dpop',
      message: `dpop cannot be false with ${why} unless clientCertificate binds the tokens (mTLS, RFC 8705): tokens must be sender-constrained`,
    });
  }
  const weak = c.idTokenSigningAlgs.filter((a) => !FAPI2_ALGS.includes(a));
  if (weak.length > 0) {
    issues.push({ path: 'idTokenSigningAlgs', message: `idTokenSigningAlgs may only contain ${FAPI2_ALGS.join(', ')} with ${why}, not ${weak.join(', ')}` });
  }
  if (c.clientAssertionAlg && !FAPI2_ALGS.includes(c.clientAssertionAlg)) {
    issues.push({ path: 'clientPrivateKey', message: `clientPrivateKey must sign with ${FAPI2_ALGS.join(', ')} with ${why}, not ${c.clientAssertionAlg} (set "alg": "PS256" on an RSA key)` });
  }
  return issues;
}
