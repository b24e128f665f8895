/**
 * Sessions sealed at rest (README "Sessions at rest"). The session id is the only secret: the browser's cookie
 * carries it, the store never sees it. From it come
 * - the store key, `storeKeyOf(id)`: a SHA-256 hash, so a dump of the store, MONITOR, a replica or a backup holds
 *   no usable session id, and the back-channel index and logs can name a session without being able to resume it;
 * - the sealing key: HKDF-SHA256 (RFC 5869) of the id, so only a request that carries the cookie can read the
 *   session: AES-256-GCM (node:crypto; NIST SP 800-38D) with a random 96-bit IV, the store key as additional data.
 *
 * What the store holds per session is `<revision>.<sealed>`: the revision in clear, so the compare-and-set script
 * can check it without the key (versioned-store.ts); a destroyed session holds {@link TOMBSTONE}.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** What a destroyed session's key holds until the session could no longer have lived (versioned-store.ts). @private */
export const TOMBSTONE = '~';

/** The version tag of the sealed format: `s1.` + base64url(IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes)). */
const SEALED = 's1.';

/**
 * The key a session is stored under, derived from its id: base64url(SHA-256(id)), 43 characters. The id is 192
 * random bits (express-session's uid-safe), so a plain hash cannot be reversed; the store, the sid/sub index and
 * the refresh lock hold only this. Use it to find a session's entry, never to resume the session.
 * @public
 */
export function storeKeyOf(sessionId: string): string {
  return createHash('sha256').update(`express-oauth-login session ${sessionId}`).digest('base64url');
}

/**
 * Sealing keys of the sessions active in the last minute, by store key: node's hkdfSync costs more than the
 * decryption itself, and a session is opened on every request. The key lives in this process only (never in the
 * store), next to what a request of the session holds in memory anyway.
 */
const recentKeys = new LRUCache<string, Buffer>({ max: 10_000, ttl: 60_000 });

function sealingKey(sessionId: string, storeKey: string): Buffer {
  let key = recentKeys.get(storeKey);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', sessionId, 'express-oauth-login', 'session sealing key', 32));
    recentKeys.set(storeKey, key);
  }
  return key;
}

/** Encrypts and authenticates `plaintext` under the key of `sessionId` (AES-256-GCM). @private */
export function seal(plaintext: string, sessionId: string, storeKey = storeKeyOf(sessionId)): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(sessionId, storeKey), iv);
  cipher.setAAD(Buffer.from(storeKey));
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return SEALED + body.toString('base64url');
}

/**
 * The plaintext of a sealed value, or `undefined` when it was not sealed under this session's key (tampered with,
 * or copied from another session's entry): such an entry is treated as no session at all.
 * @private
 */
export function unseal(sealed: string, sessionId: string, storeKey = storeKeyOf(sessionId)): string | undefined {
  if (!sealed.startsWith(SEALED)) return undefined;
  const bytes = Buffer.from(sealed.slice(SEALED.length), 'base64url');
  if (bytes.length < 12 + 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(sessionId, storeKey), bytes.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(storeKey));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** True when a stored value is in the sealed format (not a plaintext session from before sealing). @private */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED);
}

/** A stored entry: `<revision>.<payload>`, or a tombstone. @private */
export type StoredEntry = { revision: number; payload: string } | { ended: true };

/** Reads a stored entry; `undefined` for anything that is neither (e.g. a plaintext session from before sealing). @private */
export function parseEntry(value: string): StoredEntry | undefined {
  if (value === TOMBSTONE) return { ended: true };
  const dot = value.indexOf('.');
  const revision = Number(value.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(revision) || revision < 1) return undefined;
  return { revision, payload: value.slice(dot + 1) };
}

/** The stored form of revision `revision` of a session. @private */
export function formatEntry(revision: number, payload: string): string {
  return `${revision}.${payload}`;
}
