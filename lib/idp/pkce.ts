/**
 * The per-login random values and the PKCE S256 challenge, computed with node:crypto.
 *
 * Why not openid-client's helpers: calculatePKCECodeChallenge goes through WebCrypto's `subtle.digest`, which hands
 * a SHA-256 of 43 bytes to the libuv thread pool and back, and the random helpers go through WebCrypto's
 * getRandomValues; openid-client takes the values as plain parameters, so the caller may make them. The bench
 * (bench/README.md) measured the S256 challenge at about 40 µs of CPU that way and under 10 µs with node:crypto.
 * Same values as openid-client's: 32 random bytes, base64url without padding (43 characters, 256 bits; RFC 7636
 * §4.1 wants 43-128 characters, RFC 9700 §2.1 at least 128 bits for state and nonce).
 */
import { createHash, randomBytes } from 'node:crypto';

/** A 256-bit random value, base64url (43 characters): a `state`, `nonce` or PKCE `code_verifier`. @private */
export function randomValue(): string {
  return randomBytes(32).toString('base64url');
}

/** The PKCE S256 `code_challenge` of a verifier: BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2). @private */
export function pkceS256Challenge(codeVerifier: string): string {
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}
