/**
 * DPoP nonces remembered per server (RFC 9449 §8 for the IdP, §9 for resource servers), so a request does not pay a
 * `use_dpop_nonce` round trip each time. openid-client's DPoP handle keeps the nonces it saw, but a handle holds
 * one login's key and lives for one request here (the key pair is kept in the session, so any instance can use
 * it); without this every token request, refresh, UserInfo call and API call would first be refused for want of a
 * nonce. The nonce a server sent last is recorded from every response (the HTTP client calls
 * rememberDpopNonce), and each new proof carries it through openid-client's public `modifyAssertion` hook, just
 * before the proof is signed. A stale one costs what it did before: the server answers `use_dpop_nonce` with a
 * fresh nonce and openid-client retries once.
 */
import { LRUCache } from 'lru-cache';
import type * as client from 'openid-client';

/** Origins remembered: the IdP and the resource servers an app calls; the least recently used ones go first. */
const MAX_ORIGINS = 100;

const nonces = new LRUCache<string, string>({ max: MAX_ORIGINS });

/** The DPoP-Nonce header servers use (RFC 9449 §8.1): printable ASCII without spaces or quotes. */
const NONCE_SYNTAX = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/** Records the nonce a server sent with `response`, if any. @private */
export function rememberDpopNonce(url: string | URL, response: Response): void {
  const nonce = response.headers.get('dpop-nonce');
  if (nonce && NONCE_SYNTAX.test(nonce)) nonces.set(new URL(url).origin, nonce);
}

/**
 * openid-client's modifyAssertion hook for DPoP proofs: the proof for `htu` carries the nonce its origin sent last.
 * @private
 */
export const withRememberedNonce: client.ModifyAssertionFunction = (_header, payload) => {
  if (typeof payload.htu !== 'string' || !URL.canParse(payload.htu)) return;
  const nonce = nonces.get(new URL(payload.htu).origin);
  if (nonce) payload.nonce = nonce;
};
