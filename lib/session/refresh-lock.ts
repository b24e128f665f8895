/**
 * Refresh single flight across app instances: when several instances find the same access token expired at once,
 * exactly one refresh grant reaches the IdP (RFC 6749 §6). With an IdP that rotates refresh tokens (RFC 9700
 * §4.14.2) a second grant with the old token would be refused as reuse and could revoke the whole grant: this is
 * the difference between staying logged in and being logged out.
 *
 * How: a short Redis lock (SET NX PX) per refresh token. The instance that takes it runs the grant and stores the
 * outcome for a minute; the others poll for the outcome and reuse it (one atomic script per poll). A transient
 * failure is stored for that attempt's waiters only, so they answer as it did and the next request tries again.
 * Keys are derived from the refresh token with HKDF, and the outcome is encrypted (JWE, dir + A256GCM via jose)
 * under another key derived from it: only a holder of the old refresh token can find or read the new tokens, and
 * the token itself never reaches Redis.
 */
import { hkdfSync, randomUUID } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { IdpUnavailableError, OAuthLoginError, type OAuthErrorCode } from '../errors.js';
import type { StoredTokens } from '../types.js';
import { type StoreCoordination, redisCall } from './redis.js';

/** The outcome of a refresh: new tokens, or `undefined` when the grant is gone and the session must end. */
type Outcome = StoredTokens | undefined;

/**
 * How an outcome is stored. Tokens and "the grant is gone" (a definitive refusal) answer everyone who still holds
 * the old refresh token. A transient failure (the IdP down, slow, overloaded) is kept per attempt, for the requests
 * that waited for that very attempt: they answer as it did (same class, code and status), while a request that
 * arrives later runs a new grant (README "Refresh").
 */
type Stored = { tokens: StoredTokens } | { ended: true } | { failed: 'transient'; error: { code: OAuthErrorCode; status: number; message: string } };

/** How long the outcome stays in Redis for instances whose requests read the session before it was updated. */
const RESULT_MS = 60_000;
const POLL_MS = 40;

/**
 * One poll, atomic (so no request can take the lock between another's result and its release, which used to let a
 * second grant through): the result if there is one; else the failure of the attempt this caller waited for
 * (ARGV[3], the owner it saw holding the lock); else the lock for this caller; else who holds it.
 * KEYS: result, lock, failures (a hash owner → failure). One hash tag: one Redis Cluster slot.
 */
const POLL = `
local result = redis.call('get', KEYS[1])
if result then return {'result', result} end
if ARGV[3] ~= '' then
  local failure = redis.call('hget', KEYS[3], ARGV[3])
  if failure then return {'failed', failure} end
end
if redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {'taken'} end
return {'held', redis.call('get', KEYS[2]) or ''}`;

/** Records a transient failure for the attempt's waiters and releases the lock, if still ours. KEYS: failures, lock. */
const FAIL = `
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('pexpire', KEYS[1], ARGV[3])
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('del', KEYS[2]) end
return 1`;

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

/** The reply of the POLL script. */
type PollReply = ['result' | 'failed', string] | ['taken'] | ['held', string];

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
  // A hash tag ({...}) keeps the lock, the result and the failures in one Redis Cluster slot.
  const id = `{${Buffer.from(derive(refreshToken, 'express-oauth-login refresh id')).toString('base64url')}}`;
  const key = derive(refreshToken, 'express-oauth-login refresh result');
  const [resultKey, lockKey, failuresKey] = [keyOf(id, 'result'), keyOf(id, 'lock'), keyOf(id, 'failures')];
  const owner = randomUUID();
  // A waiter whose attempt fails hears of it however late it polls (a loaded event loop): failures live as long
  // as anyone can wait. Only the attempt's own waiters look for its failure, so they never stop a later retry.
  const failureMs = 2 * lockMs + 1000;
  const deadline = Date.now() + lockMs + 1000;
  let awaited = '';
  for (;;) {
    const reply = (await redisCall(timeout, () => client.eval(POLL, 3, resultKey, lockKey, failuresKey, owner, lockMs, awaited))) as PollReply;
    if (reply[0] === 'result' || reply[0] === 'failed') return open(reply[1], key);
    if (reply[0] === 'taken') break;
    awaited = reply[1];
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
      const failure = await seal({ failed: 'transient', error: { code: err.code, status: err.status, message: err.message } }, key);
      await redisCall(timeout, () => client.eval(FAIL, 2, failuresKey, lockKey, owner, failure, failureMs)).catch(() => undefined);
    } else {
      await redisCall(timeout, () => client.eval(RELEASE, 1, lockKey, owner)).catch(() => undefined);
    }
    throw err;
  }
  const value: Stored = outcome ? { tokens: outcome } : { ended: true };
  // If this write fails the caller still gets the new tokens; saving them in the session will report the outage.
  // The lock is left to expire: from now on the stored outcome answers everyone.
  await redisCall(timeout, async () => client.set(resultKey, await seal(value, key), 'PX', RESULT_MS)).catch(() => undefined);
  return outcome;
}
