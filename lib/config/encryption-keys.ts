/**
 * The client's decryption keys (`clientEncryptionKeys`) for responses the IdP encrypts to it: ID tokens (OIDC Core
 * §10.2) and UserInfo responses (§5.3.2), and JARM responses. Parsed and checked at start-up by node:crypto;
 * idp/jwe.ts imports them for openid-client, which does the decryption (jose).
 */
import { type JsonWebKey, type KeyObject, createPrivateKey } from 'node:crypto';
import type { JWK } from 'jose';

/** Responses that must arrive encrypted once keys are configured. @public */
export const ENCRYPTED_RESPONSES = ['id_token', 'userinfo'] as const;

/** A response the client registered encryption for. @public */
export type EncryptedResponse = (typeof ENCRYPTED_RESPONSES)[number];

/** A parsed decryption key. @private */
export interface EncryptionKey {
  /** The private JWK, re-exported by node:crypto (only the key's own members). */
  jwk: JWK;
  /** JWE key management algorithm (RFC 7518 §4.1). */
  alg: string;
  kid?: string;
}

/** Key management algorithms openid-client decrypts with, per key type (its enableDecryptingResponses). */
const ALGS_BY_KEY: Record<string, string[]> = {
  rsa: ['RSA-OAEP-256', 'RSA-OAEP', 'RSA-OAEP-384', 'RSA-OAEP-512'],
  'ec:prime256v1': ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'],
  x25519: ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'],
};

function kindOf(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? '';
  return type === 'ec' ? `ec:${key.asymmetricKeyDetails?.namedCurve ?? ''}` : type;
}

/**
 * Parses `clientEncryptionKeys`: private JWKs of RSA, EC P-256 or X25519 keys; `alg` defaults to RSA-OAEP-256 or
 * ECDH-ES. Messages name the entry and never quote the key.
 * @private
 */
export function parseEncryptionKeys(input: unknown[]): { keys: EncryptionKey[] } | { error: string } {
  const keys: EncryptionKey[] = [];
  for (const [i, entry] of input.entries()) {
    const field = `clientEncryptionKeys[${i}]`;
    const jwk = (typeof entry === 'string' && entry.trim().startsWith('{') ? safeJson(entry) : entry) as JWK | undefined;
    let key: KeyObject;
    try {
      if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') throw new Error('not a private JWK');
      key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      return { error: `${field} is not a private JWK (an RSA, EC P-256 or X25519 key with "d")` };
    }
    const algs = ALGS_BY_KEY[kindOf(key)];
    if (!algs) return { error: `${field} must be an RSA, EC P-256 or X25519 key (openid-client decrypts with these only)` };
    const alg = jwk.alg ?? algs[0]!;
    if (!algs.includes(alg)) return { error: `${field}: alg "${alg}" does not fit this key (use one of ${algs.join(', ')})` };
    if (jwk.use !== undefined && jwk.use !== 'enc') return { error: `${field} has "use": "${jwk.use}"; a decryption key must be "enc"` };
    const own = key.export({ format: 'jwk' }) as JWK;
    keys.push({ jwk: { ...own, alg, ...(jwk.kid !== undefined && { kid: jwk.kid }) }, alg, ...(jwk.kid !== undefined && { kid: jwk.kid }) });
  }
  const kids = keys.map((k) => k.kid).filter((k) => k !== undefined);
  if (new Set(kids).size !== kids.length) return { error: 'clientEncryptionKeys: two keys share a kid' };
  return { keys };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
