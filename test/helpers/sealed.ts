/**
 * Reads and edits sessions as oauthSession()'s stores keep them (sealed, versioned: lib/session/session-key.ts),
 * straight in Redis, as if time had passed or another process had written them.
 */
import { formatEntry, parseEntry, seal, storeKeyOf, unseal } from '../../lib/session/session-key.js';

/** A Redis or Cluster client: what these helpers need of it. */
interface Client {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, keepTtl: 'KEEPTTL'): Promise<unknown>;
}

/** The Redis key of a session. */
export const redisKeyOf = (sid: string, prefix = 'sess:'): string => prefix + storeKeyOf(sid);

/**
 * The stored session (unsealed and parsed), or undefined when there is none (or only a tombstone). A plaintext
 * session under the plain id (as releases before sealing wrote them) is read too.
 */
export async function readStored(raw: Client, sid: string, prefix = 'sess:'): Promise<Record<string, any> | undefined> {
  const value = await raw.get(redisKeyOf(sid, prefix));
  if (value === null) {
    const plain = await raw.get(prefix + sid);
    if (plain !== null) return JSON.parse(plain);
  }
  const entry = value === null ? undefined : parseEntry(value);
  if (!entry || 'ended' in entry) return undefined;
  const text = unseal(entry.payload, sid);
  return text === undefined ? undefined : JSON.parse(text);
}

/** Writes `data` as the next revision of the session, keeping its TTL (in place, for a plaintext session). */
export async function writeStored(raw: Client, sid: string, data: Record<string, any>, prefix = 'sess:'): Promise<void> {
  const value = await raw.get(redisKeyOf(sid, prefix));
  if (value === null && (await raw.get(prefix + sid)) !== null) {
    await raw.set(prefix + sid, JSON.stringify(data), 'KEEPTTL');
    return;
  }
  const entry = value === null ? undefined : parseEntry(value);
  const revision = entry && !('ended' in entry) ? entry.revision : 0;
  await raw.set(redisKeyOf(sid, prefix), formatEntry(revision + 1, seal(JSON.stringify(data), sid)), 'KEEPTTL');
}

/** 1 when the store holds a live session for `sid`, 0 when it holds none (nothing, or a tombstone). */
export async function hasSession(raw: Client, sid: string, prefix = 'sess:'): Promise<number> {
  return (await readStored(raw, sid, prefix)) === undefined ? 0 : 1;
}
