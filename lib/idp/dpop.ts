/**
 * DPoP (RFC 9449): sender-constrained tokens. Each login gets its own key pair, made by openid-client and kept
 * (as JWKs) in the server-side session with the tokens it protects, so any instance sharing the session store can
 * refresh them or call an API with them, and a stolen access or refresh token is useless without the key
 * (RFC 9449 §1). Proofs are built by openid-client's DPoP handle, which also answers `use_dpop_nonce` challenges
 * by retrying once with the server's nonce (RFC 9449 §8, §9); each proof starts with the nonce its server sent
 * last (dpop-nonces.ts), so that retry is the exception.
 */
import { exportJWK, importJWK } from 'jose';
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError } from '../errors.js';
import type { StoredDpopKey } from '../types.js';
import { withRememberedNonce } from './dpop-nonces.js';
import { serverMetadataOf } from './metadata.js';

/** Every handle's proofs carry the nonce their server sent last. */
const HANDLE_OPTIONS: client.ModifyAssertionOptions = { [client.modifyAssertion]: withRememberedNonce };

/** Our preference among the algorithms an IdP may accept for proofs (small, fast keys first). */
const PREFERRED_ALGS = ['ES256', 'Ed25519', 'EdDSA', 'PS256', 'RS256'];

/** Creates a fresh key pair for one login, in an algorithm the IdP accepts. @private */
export async function newDpopKey(configuration: client.Configuration): Promise<{ stored: StoredDpopKey; handle: client.DPoPHandle }> {
  const supported = serverMetadataOf(configuration).dpop_signing_alg_values_supported ?? [];
  const alg = PREFERRED_ALGS.find((a) => supported.includes(a)) ?? 'ES256';
  // Extractable only so the pair can be kept in the session store; it never leaves the server.
  const keyPair = await client.randomDPoPKeyPair(alg, { extractable: true });
  const stored = { alg, privateJwk: await exportJWK(keyPair.privateKey), publicJwk: await exportJWK(keyPair.publicKey) };
  return { stored, handle: client.getDPoPHandle(configuration, keyPair, HANDLE_OPTIONS) };
}

/** The DPoP handle for a stored key pair. @private */
export async function dpopHandle(configuration: client.Configuration, stored: StoredDpopKey): Promise<client.DPoPHandle> {
  const [privateKey, publicKey] = await Promise.all([
    importJWK(stored.privateJwk, stored.alg, { extractable: false }),
    importJWK(stored.publicJwk, stored.alg, { extractable: true }),
  ]);
  if (!(privateKey instanceof CryptoKey) || !(publicKey instanceof CryptoKey)) throw new TypeError('DPoP key did not import as a CryptoKey');
  return client.getDPoPHandle(configuration, { privateKey, publicKey }, HANDLE_OPTIONS);
}

/** openid-client request options carrying the DPoP handle for `stored`, or none for bearer tokens. @private */
export async function dpopOptions(configuration: client.Configuration, stored: StoredDpopKey | undefined): Promise<client.DPoPOptions | undefined> {
  return stored ? { DPoP: await dpopHandle(configuration, stored) } : undefined;
}

/**
 * RFC 9449 §5: the token response says `token_type: DPoP` when the IdP bound the token. With `dpop: true` a bearer
 * token would silently drop the protection the app asked for, so it is refused.
 * @private
 */
export function assertDpopBound(config: ResolvedConfig, tokens: client.TokenEndpointResponse): void {
  if (config.dpop && tokens.token_type?.toLowerCase() !== 'dpop') {
    throw new IdpUnavailableError(
      'idp_bad_response',
      502,
      'The identity provider issued a bearer token although the app asked for a DPoP-bound one (dpop: true). ' +
        'Enable DPoP for this client at the identity provider.',
    );
  }
}

/** The token type as an HTTP authorization scheme: `DPoP` or `Bearer` (RFC 9449 §7.1, RFC 6750 §2.1). @private */
export function authorizationScheme(tokenType: string | undefined): string {
  const lower = (tokenType ?? 'bearer').toLowerCase();
  if (lower === 'dpop') return 'DPoP';
  if (lower === 'bearer') return 'Bearer';
  return tokenType!;
}
