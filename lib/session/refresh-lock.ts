/**
 * Refresh single flight across app instances: when several instances find the same access token expired at once,
 * exactly one refresh grant reaches the IdP (RFC 6749 §6). With an IdP that rotates refresh tokens (RFC 9700
 * §4.14.2) a second grant with the old token would be refused as reuse and could revoke the whole grant: this is
 * the difference between staying logged in and being logged out.
 *
 * How: a short Redis lock (SET NX PX) per refresh token. The instance that takes it runs the grant and stores the
 * outcome for a minute; the others poll for the outcome and reuse it. Keys are derived from the refresh token with
 * HKDF, and the outcome is encrypted (JWE, dir + A256GCM via jose) under another key derived from it: only a
 * holder of the old refresh token can find or read the new tokens, and the token itself never reaches Redis.
 */
import { hkdfSync, randomUUID } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { IdpUnavailableError, OAuthLoginError, type OAuthErrorCode } from '../errors.js';
import type { StoredTokens } from '../types.js';
import { type StoreCoordination, redisCall } from './redis.js';

/** The outcome of a refresh: new tokens, or `undefined` when the grant is gone and the session must end. */
type Outcome = StoredTokens | undefined;

/** How the outcome is stored: tokens, "the grant is gone", or the error a failed attempt reported. */
type Stored = { tokens: StoredTokens } | { ended: true } | { error: { code: OAuthErrorCode; status: number; message: string } };

/** How long the outcome stays in Redis for instances whose requests read the session before it was updated. */
const RESULT_MS = 60_000;
/** A failed attempt's error is shared only briefly: the next request should try again. */
const ERROR_MS = 1000;
const POLL_MS = 40;
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const derive = (refreshToken: string, info: string) => new Uint8Array(hkdfSync('sha256', refreshToken, '', info, 32));

async function seal(value: Stored, key: Uint8Array): Promise<string> {
  const plaintext = new TextEncoder().encode(JSON.stringify(value));
  return new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
}

async function open(jwe: string, key: Uint8Array): Promise<Outcome> {
  const { plaintext } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
  const stored = JSON.parse(new TextDecoder().decode(plaintext)) as Stored;
  if ('tokens' in stored) return stored.tokens;
  if ('ended' in stored) return undefined;
  const { code, status, message } = stored.error;
  // The same class the attempt threw, for app error handlers that switch on it.
  throw code.startsWith('idp_') ? new IdpUnavailableError(code, status, message) : new OAuthLoginError(code, status, message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `grant` for `refreshToken` at most once across every instance sharing `shared.client`; the other callers
 * get the same outcome. `keyOf(part)` names a coordination key; `lockMs` must exceed the longest a grant can take.
 * Redis failures become a 503 SessionStoreError (fail closed).
 * @private
 */
export async function sharedRefresh(
  shared: StoreCoordination,
  keyOf: (id: string, part: string) => string,
  refreshToken: string,
  lockMs: number,
  grant: () => Promise<Outcome>,
): Promise<Outcome> {
  const { client, timeout } = shared;
  // A hash tag ({...}) keeps the lock and the result in one Redis Cluster slot.
  const id = `{${Buffer.from(derive(refreshToken, 'express-oauth-login refresh id')).toString('base64url')}}`;
  const key = derive(refreshToken, 'express-oauth-login refresh result');
  const lockKey = keyOf(id, 'lock');
  const resultKey = keyOf(id, 'result');
  const owner = randomUUID();
  const deadline = Date.now() + lockMs + 1000;
  for (;;) {
    const stored = await redisCall(timeout, () => client.get(resultKey));
    if (stored) return open(stored, key);
    const taken = await redisCall(timeout, () => client.set(lockKey, owner, 'PX', lockMs, 'NX'));
    if (taken === 'OK') break;
    if (Date.now() > deadline) {
      throw new IdpUnavailableError('idp_timeout', 504, 'Refreshing the sign-in took too long. Please try again.');
    }
    await sleep(POLL_MS);
  }
  let outcome: Outcome;
  try {
    outcome = await grant();
  } catch (err) {
    if (err instanceof OAuthLoginError) {
      const error = { code: err.code, status: err.status, message: err.message };
      await redisCall(timeout, async () => client.set(resultKey, await seal({ error }, key), 'PX', ERROR_MS)).catch(() => undefined);
    }
    await redisCall(timeout, () => client.eval(RELEASE, 1, lockKey, owner)).catch(() => undefined);
    throw err;
  }
  const value: Stored = outcome ? { tokens: outcome } : { ended: true };
  // If this write fails the caller still gets the new tokens; saving them in the session will report the outage.
  // The lock is left to expire: from now on the stored outcome answers everyone.
  await redisCall(timeout, async () => client.set(resultKey, await seal(value, key), 'PX', RESULT_MS)).catch(() => undefined);
  return outcome;
}
