/**
 * The configuration side of client authentication (RFC 6749 §2.3, OIDC Core §9): which methods exist, which need
 * the client secret, and the client's signing key for `private_key_jwt` (RFC 7523 §2.2), parsed and checked at
 * start-up by node:crypto. idp/client-auth.ts turns the result into openid-client's ClientAuth.
 */
import { type JsonWebKey, type KeyObject, createPrivateKey } from 'node:crypto';
import type { JWK } from 'jose';
import { profileIssues } from './profiles.js';

/** Token endpoint authentication methods the middleware supports. @public */
export const TOKEN_ENDPOINT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  // RFC 8705 §2.1 and §2.2: the TLS client certificate (clientCertificate) authenticates the client.
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const;

/** A token endpoint authentication method. @public */
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** Methods that authenticate with `clientSecret`. @private */
export const SECRET_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt'];

/** The client's signing key, parsed and checked at start-up. @private */
export interface ClientKey {
  /** The private key as a JWK (never logged, never sent: only the signature leaves the process). */
  jwk: JWK;
  kid: string;
  /** JWS algorithm of the client assertions. */
  alg: string;
}

/** JWS algorithms a key type can sign with (RFC 7518 §3.1, RFC 8037). */
const ALGS_BY_KEY: Record<string, string[]> = {
  rsa: ['PS256', 'RS256', 'PS384', 'RS384', 'PS512', 'RS512'],
  'ec:P-256': ['ES256'],
  'ec:P-384': ['ES384'],
  'ec:P-521': ['ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
};

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function keyKind(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? '';
  if (type === 'rsa' || type === 'rsa-pss') return 'rsa';
  if (type === 'ec') return `ec:${CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'other'}`;
  return type;
}

/**
 * Parses `clientPrivateKey` (a private JWK object, a JWK as a JSON string, or a PKCS#8/PKCS#1/SEC1 PEM string).
 * `preferPss` picks PS256 rather than RS256 for an RSA key without `alg` (FAPI 2.0 §5.4.1 excludes RS256).
 * @returns the key, or a message naming the field and what to fix.
 * @private
 */
export function parseClientKey(
  input: unknown,
  kidOption: string | undefined,
  preferPss: boolean,
): { key: ClientKey } | { error: string } {
  let jwkIn: JWK | undefined;
  let keyObject: KeyObject;
  try {
    if (typeof input === 'string' && input.trim().startsWith('{')) jwkIn = JSON.parse(input) as JWK;
    else if (typeof input === 'object' && input !== null) jwkIn = input;
    keyObject = jwkIn
      ? createPrivateKey({ key: jwkIn as JsonWebKey, format: 'jwk' })
      : createPrivateKey(String(input));
  } catch {
    // The parser's message is not repeated: it could quote parts of the key.
    return {
      error:
        'clientPrivateKey is not a usable private key: give a private JWK (with "d" and "kid") or a PKCS#8 PEM ' +
        '("-----BEGIN PRIVATE KEY-----") with clientPrivateKeyId',
    };
  }
  const kind = keyKind(keyObject);
  const algs = ALGS_BY_KEY[kind];
  if (!algs) return { error: `clientPrivateKey must be an RSA, EC (P-256/384/521) or Ed25519 key, not ${kind || 'this type'}` };
  const kid = jwkIn?.kid ?? kidOption;
  if (!kid) return { error: 'clientPrivateKey has no kid: add "kid" to the JWK, or set clientPrivateKeyId (the kid registered at the IdP)' };
  if (jwkIn?.kid && kidOption && jwkIn.kid !== kidOption) {
    return { error: `clientPrivateKeyId ("${kidOption}") differs from the JWK's kid: keep one of them` };
  }
  const alg = jwkIn?.alg ?? (kind === 'rsa' && !preferPss ? 'RS256' : algs[0]!);
  if (!algs.includes(alg)) return { error: `clientPrivateKey: alg "${alg}" does not fit a ${kind} key (use one of ${algs.join(', ')})` };
  // Re-exported by node:crypto, so only the key's own members travel on (no "use", "key_ops" or "ext" surprises).
  return { key: { jwk: { ...(keyObject.export({ format: 'jwk' }) as JWK), kid, alg }, kid, alg } };
}

/** True when the configured method (default client_secret_basic) authenticates with clientSecret. @private */
export function needsClientSecret(c: { tokenEndpointAuthMethod?: unknown }): boolean {
  return SECRET_METHODS.includes((c.tokenEndpointAuthMethod ?? 'client_secret_basic') as TokenEndpointAuthMethod);
}

/** The options the cross-field rules read. @private */
export interface ClientAuthOptions {
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientSecret?: string | undefined;
  clientPrivateKey?: unknown;
  clientPrivateKeyId?: string | undefined;
  idTokenSigningAlgs: string[];
  pushedAuthorizationRequests: boolean;
  dpop: boolean;
  profile?: string | undefined;
  /** JAR (RFC 9101): request objects are signed with clientPrivateKey too. */
  requestObject: boolean;
  clientCertificate?: unknown;
}

/** True when the configuration signs with clientPrivateKey: client assertions or request objects. @private */
export function usesClientKey(c: { tokenEndpointAuthMethod?: unknown; requestObject?: unknown }): boolean {
  return c.tokenEndpointAuthMethod === 'private_key_jwt' || c.requestObject === true;
}

/**
 * Cross-field rules of client authentication and of security profiles, as (field, message) pairs for the
 * configuration schema.
 * @private
 */
export function clientAuthIssues(c: ClientAuthOptions): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  const method = c.tokenEndpointAuthMethod;
  // RFC 7518 §3.2: an HS256 key must be at least 256 bits.
  if (method === 'client_secret_jwt' && c.clientSecret && c.clientSecret.length < 32) {
    issues.push({ path: 'clientSecret', message: 'clientSecret must be at least 32 characters with "client_secret_jwt" (HS256 needs a 256-bit key, RFC 7518 §3.2)' });
  }
  if (c.idTokenSigningAlgs.some((a) => a.startsWith('HS')) && !c.clientSecret) {
    issues.push({ path: 'idTokenSigningAlgs', message: 'idTokenSigningAlgs lists an HS* algorithm, which needs clientSecret' });
  }
  let assertionAlg: string | undefined;
  if (usesClientKey(c)) {
    const use = method === 'private_key_jwt' ? 'tokenEndpointAuthMethod "private_key_jwt"' : 'requestObject: true';
    if (c.clientPrivateKey === undefined) {
      issues.push({
        path: 'clientPrivateKey',
        message: `clientPrivateKey is required with ${use}: a private JWK with its kid, or a PEM with clientPrivateKeyId (or set OAUTH_CLIENT_PRIVATE_KEY)`,
      });
    } else {
      const parsed = parseClientKey(c.clientPrivateKey, c.clientPrivateKeyId, c.profile === 'fapi2');
      if ('error' in parsed) issues.push({ path: 'clientPrivateKey', message: parsed.error });
      else assertionAlg = parsed.key.alg;
    }
  } else if (c.clientPrivateKey !== undefined) {
    issues.push({
      path: 'clientPrivateKey',
      message: `clientPrivateKey is only used with tokenEndpointAuthMethod "private_key_jwt" or requestObject: true (the method is "${method}")`,
    });
  }
  return [...issues, ...profileIssues({ ...c, clientAssertionAlg: assertionAlg, mtlsBound: c.clientCertificate !== undefined })];
}
