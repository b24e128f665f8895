/**
 * Which sessions belong to an IdP session (`sid`) or a user (`sub`): what back-channel logout needs to end "every
 * session of this user" without scanning the store. Also remembers logout token `jti`s to refuse replays.
 *
 * Two implementations of one small interface: in process (for MemoryStore and single-instance apps) and Redis
 * sets with a TTL (shared by every instance). Entries live as long as a session can (absoluteTimeout); destroying
 * an id whose session already ended is harmless, so stale entries cost nothing but a few bytes until they expire.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { ResolvedConfig } from '../config/schema.js';
import { type RedisClient, coordinationForStore, coordinationKey, redisCall } from './redis.js';
import { indexEntryOf } from './sealed-store.js';
import type { StoredUser } from './state.js';

/** An index from keys (IdP sid, user sub) to session ids, plus a replay memory. @private */
export interface SessionIndex {
  /** Records session `id` under every key, for at least `ttl` seconds. */
  add(keys: string[], id: string, ttl: number): Promise<void>;
  /** The session ids recorded under `key`. */
  members(key: string): Promise<string[]>;
  /** Forgets session `id` under every key. */
  remove(keys: string[], id: string): Promise<void>;
  /** True the first time `key` is seen within `ttl` seconds, false for a repeat (logout token replay). */
  firstSeen(key: string, ttl: number): Promise<boolean>;
  /** Forgets a key marked by firstSeen (the logout it guarded failed, so a retry must pass). */
  forget(key: string): Promise<void>;
  /**
   * Stores the record of the session with index entry `entry` (session-records.ts: sealed) for `ttl` seconds;
   * `onlyIfKept` updates an existing record only, so a late update cannot bring back a session that was ended.
   */
  putRecord(entry: string, record: string, ttl: number, onlyIfKept: boolean): Promise<void>;
  /** The records of these entries, `undefined` for one that is gone. */
  records(entries: string[]): Promise<Array<string | undefined>>;
  /** Forgets a session's record. */
  dropRecord(entry: string): Promise<void>;
}

/** Entries swept per call, so a busy process never pauses to clean a big map. */
const SWEEP_BATCH = 100;

/** The in-process index: maps with expiry times, swept a little on every write. @private */
export function createMemorySessionIndex(): SessionIndex {
  const sets = new Map<string, Map<string, number>>();
  const seen = new Map<string, number>();
  const kept = new Map<string, { record: string; until: number }>();
  const sweep = (): void => {
    const now = Date.now();
    let budget = SWEEP_BATCH;
    for (const [key, ids] of sets) {
      if (budget-- <= 0) break;
      for (const [id, until] of ids) if (until <= now) ids.delete(id);
      if (ids.size === 0) sets.delete(key);
    }
    budget = SWEEP_BATCH;
    for (const [key, until] of seen) {
      if (budget-- <= 0) break;
      if (until <= now) seen.delete(key);
    }
    budget = SWEEP_BATCH;
    for (const [entry, { until }] of kept) {
      if (budget-- <= 0) break;
      if (until <= now) kept.delete(entry);
    }
  };
  return {
    async add(keys, id, ttl) {
      sweep();
      const until = Date.now() + ttl * 1000;
      for (const key of keys) {
        const ids = sets.get(key) ?? new Map<string, number>();
        ids.set(id, until);
        // Re-insert so that the least recently written keys are swept first.
        sets.delete(key);
        sets.set(key, ids);
      }
    },
    async members(key) {
      const now = Date.now();
      return [...(sets.get(key) ?? new Map<string, number>())].filter(([, until]) => until > now).map(([id]) => id);
    },
    async remove(keys, id) {
      for (const key of keys) {
        const ids = sets.get(key);
        ids?.delete(id);
        if (ids?.size === 0) sets.delete(key);
      }
    },
    async firstSeen(key, ttl) {
      sweep();
      const until = seen.get(key);
      if (until !== undefined && until > Date.now()) return false;
      seen.set(key, Date.now() + ttl * 1000);
      return true;
    },
    async forget(key) {
      seen.delete(key);
    },
    async putRecord(entry, record, ttl, onlyIfKept) {
      sweep();
      const current = kept.get(entry);
      if (onlyIfKept && !(current && current.until > Date.now())) return;
      kept.delete(entry);
      kept.set(entry, { record, until: Date.now() + ttl * 1000 });
    },
    async records(entries) {
      const now = Date.now();
      return entries.map((entry) => {
        const found = kept.get(entry);
        return found && found.until > now ? found.record : undefined;
      });
    },
    async dropRecord(entry) {
      kept.delete(entry);
    },
  };
}

/**
 * The Redis index: one set per key (SADD + EXPIRE in one MULTI, so a set never outlives its newest session), and
 * SET NX EX for the replay memory. Every command touches a single key, so it works on Redis Cluster too.
 * @param prefix namespace for the keys, e.g. `eol:<clientId>:bcl:`.
 * @private
 */
export function createRedisSessionIndex(client: RedisClient, prefix: string, timeoutMs = 2000): SessionIndex {
  return {
    async add(keys, id, ttl) {
      await redisCall(timeoutMs, () =>
        Promise.all(keys.map((key) => client.multi().sadd(prefix + key, id).expire(prefix + key, ttl).exec())),
      );
    },
    members: (key) => redisCall(timeoutMs, () => client.smembers(prefix + key)),
    async remove(keys, id) {
      await redisCall(timeoutMs, () => Promise.all(keys.map((key) => client.srem(prefix + key, id))));
    },
    async firstSeen(key, ttl) {
      return (await redisCall(timeoutMs, () => client.set(`${prefix}jti:${key}`, '1', 'EX', Math.max(1, ttl), 'NX'))) === 'OK';
    },
    async forget(key) {
      await redisCall(timeoutMs, () => client.del(`${prefix}jti:${key}`));
    },
    async putRecord(entry, record, ttl, onlyIfKept) {
      const key = `${prefix}rec:${entry}`;
      await redisCall(timeoutMs, () => (onlyIfKept ? client.set(key, record, 'EX', Math.max(1, ttl), 'XX') : client.set(key, record, 'EX', Math.max(1, ttl))));
    },
    // One GET per record rather than an MGET: the records live in different Redis Cluster slots.
    records: (entries) => redisCall(timeoutMs, () => Promise.all(entries.map(async (entry) => (await client.get(`${prefix}rec:${entry}`)) ?? undefined))),
    async dropRecord(entry) {
      await redisCall(timeoutMs, () => client.del(`${prefix}rec:${entry}`));
    },
  };
}

const memoryIndexes = new WeakMap<ResolvedConfig, SessionIndex>();

/**
 * The index this request should use: Redis when a coordination client is known (the `redis` option, or the client
 * of `oauthSession({ redis })`: see redis.ts), so every instance sees every login; else this `oauthLogin()`
 * instance's in-process index.
 * @private
 */
export function sessionIndexFor(config: ResolvedConfig, req: Request): SessionIndex {
  return sessionIndexForStore(config, (req as { sessionStore?: object }).sessionStore);
}

/** {@link sessionIndexFor} for a session store known without a request (admin code). @private */
export function sessionIndexForStore(config: ResolvedConfig, store: object | undefined): SessionIndex {
  const shared = coordinationForStore(config, store);
  if (shared) return createRedisSessionIndex(shared.client, `${coordinationKey(config, 'bcl')}:`, shared.timeout);
  let memory = memoryIndexes.get(config);
  if (!memory) memoryIndexes.set(config, (memory = createMemorySessionIndex()));
  return memory;
}

/** A hash that names an index key without saying whose it is (a dump of Redis shows no subject or IdP session). */
const hashed = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * The index keys of a user: their IdP session (`sid`) and their subject (`sub`), both scoped to the issuer, and
 * hashed, so the index holds no claim in clear.
 * @private
 */
export function indexKeys(issuer: string, sub: string | undefined, sid: string | undefined): { sub?: string; sid?: string } {
  return {
    ...(sub !== undefined && { sub: `sub:${hashed(`${issuer}|${sub}`)}` }),
    ...(sid !== undefined && { sid: `sid:${hashed(`${issuer}|${sid}`)}` }),
  };
}

/**
 * The index keys in clear that releases before hashing wrote: looked up by back-channel logout until the sessions
 * indexed under them have expired (absoluteTimeout after the upgrade). @deprecated remove in the next major.
 * @private
 */
export function legacyIndexKeys(issuer: string, sub: string | undefined, sid: string | undefined): { sub?: string; sid?: string } {
  return {
    ...(sub !== undefined && { sub: `sub:${issuer}|${sub}` }),
    ...(sid !== undefined && { sid: `sid:${issuer}|${sid}` }),
  };
}

/**
 * Records a new login for back-channel logout and session control under its index entry (sealed-store.ts: the store
 * key, a hash of the session id, on a sealed store; never the id itself there), when either is on.
 * @private
 */
export async function indexSession(config: ResolvedConfig, req: Request, user: StoredUser, sessionId: string): Promise<void> {
  if (!indexed(config)) return;
  const keys = indexKeys(config.issuer, user.sub, user.sid);
  await sessionIndexFor(config, req).add(Object.values(keys), indexEntryOf(req, sessionId), config.absoluteTimeout);
}

/** Forgets a session that ended through the logout route. @private */
export async function unindexSession(config: ResolvedConfig, req: Request, user: StoredUser, sessionId: string): Promise<void> {
  if (!indexed(config)) return;
  const keys = indexKeys(config.issuer, user.sub, user.sid);
  const index = sessionIndexFor(config, req);
  const entry = indexEntryOf(req, sessionId);
  await index.remove(Object.values(keys), entry);
  await index.dropRecord(entry);
}

/** Sessions are indexed for back-channel logout and for session control (session-records.ts). */
const indexed = (config: ResolvedConfig): boolean => config.backchannelLogout || config.sessionControl !== false;
