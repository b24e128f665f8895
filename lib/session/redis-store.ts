/**
 * The Redis store of oauthSession(): connect-redis 8.1's RedisStore (its prefix, TTL and serializer handling),
 * whose get/set/destroy go through the versioned, sealed sessions of versioned-store.ts. Writes run a Lua
 * compare-and-set script, destroys a tombstone script, on the same ioredis client; each script touches exactly
 * one key, so both work on Redis Cluster. A read stays one GET; a write one EVAL; a destroy one EVAL.
 *
 * Every call has a deadline, whatever options the given client has (a client without commandTimeout would
 * otherwise queue commands forever while Redis is down), and is timed for telemetry.
 */
import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { RedisStore } from 'connect-redis';
import { type StoreOperation, storeTimer } from '../telemetry.js';
import type { SessionRecord } from './merge.js';
import { type RedisClient, redisCall } from './redis.js';
import { TOMBSTONE } from './session-key.js';
import { type CasResult, type EntryBackend, type VersionedStore, VersionedSessions } from './versioned-store.js';

type Callback<T> = (err: unknown, data?: T) => void;

/** KEYS[1] the entry; ARGV: expected revision (0: none), the new value, its TTL in ms. See EntryBackend. */
const COMPARE_AND_SET = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[1] ~= '0' then return {0} end
elseif cur == '${TOMBSTONE}' then
  return {0}
elseif string.match(cur, '^(%d+)%.') ~= ARGV[1] then
  return {1, cur}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {2}`;

/** KEYS[1] the entry; ARGV[1] the TTL in ms when the entry has none left (absent, or without expiry). */
const TOMBSTONE_SCRIPT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = tonumber(ARGV[1]) end
redis.call('SET', KEYS[1], '${TOMBSTONE}', 'PX', ttl)
return 1`;

/** The options of {@link VersionedRedisStore}. @private */
export interface VersionedRedisOptions {
  client: RedisClient;
  prefix: string;
  ttl: (record: SessionRecord, req: Request | undefined) => number;
  /** The longest a session can live (s): the tombstone of an entry without a TTL. */
  maxLifetime: number;
  /** Deadline for one Redis call (ms). */
  timeout: number;
  /** Seal sessions at rest (default true). */
  seal?: boolean;
}

/** connect-redis with versioned, sealed writes and tombstones; oauthSession({ redis }) builds it. @private */
export class VersionedRedisStore extends RedisStore implements VersionedStore {
  readonly versioned: VersionedSessions;
  readonly #timeout: number;

  constructor(options: VersionedRedisOptions) {
    // disableTouch: express-session would otherwise send EXPIRE on every request that changed nothing.
    super({ client: options.client, prefix: options.prefix, ttl: (sess) => options.ttl(sess as SessionRecord, undefined), disableTouch: true });
    this.#timeout = options.timeout;
    const { client } = options;
    const prefix = this.prefix;
    const backend: EntryBackend = {
      read: async (key) => (await client.get(prefix + key)) ?? undefined,
      compareAndSet: async (key, expected, value, ttlMs): Promise<CasResult> => {
        const reply = (await client.eval(COMPARE_AND_SET, 1, prefix + key, String(expected), value, String(Math.ceil(ttlMs)))) as [number, string?];
        if (reply[0] === 2) return { written: true };
        return reply[0] === 1 && reply[1] !== undefined ? { current: reply[1] } : { ended: true };
      },
      tombstone: async (key, fallbackMs) => {
        await client.eval(TOMBSTONE_SCRIPT, 1, prefix + key, String(fallbackMs));
      },
      readLegacy: async (sessionId) => (await client.get(prefix + sessionId)) ?? undefined,
      deleteLegacy: async (sessionId) => {
        await client.del(prefix + sessionId);
      },
    };
    this.versioned = new VersionedSessions(backend, this.serializer, options.ttl, options.maxLifetime, options.seal ?? true);
  }

  #bounded<T>(operation: StoreOperation, call: () => Promise<T>, cb?: Callback<T>): Promise<unknown> {
    // Timed here, the one place every request's store call passes (telemetry.ts; nothing without OpenTelemetry).
    const done = storeTimer('redis', operation);
    return redisCall(this.#timeout, call).then(
      (data) => {
        done?.();
        return cb ? cb(null, data) : data;
      },
      (err: unknown) => {
        done?.(err);
        if (cb) return cb(err);
        throw err;
      },
    );
  }

  override get(sid: string, cb?: Callback<SessionData | null>): Promise<unknown> {
    return this.#bounded('get', () => this.versioned.get(sid), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback<unknown>): Promise<unknown> {
    return this.#bounded('set', () => this.versioned.set(sid, sess), cb);
  }

  override destroy(sid: string, cb?: Callback<unknown>): Promise<unknown> {
    return this.#bounded('destroy', () => this.versioned.destroy(sid), cb);
  }

  /** Destroys (tombstones) the session stored under `storeKey`, with the same deadline. */
  destroyByStoreKey(storeKey: string): Promise<void> {
    return redisCall(this.#timeout, () => this.versioned.destroyByStoreKey(storeKey));
  }

  /** Sealed sessions open only with their own id: the store cannot list their contents. */
  override all(cb?: Callback<SessionData[]>): Promise<unknown> {
    const err = new Error('oauthSession() seals sessions at rest: their contents cannot be listed (all())');
    if (cb) return Promise.resolve(cb(err));
    return Promise.reject(err);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const session = super.createSession(req, data);
    this.versioned.adopt(data, session);
    return session;
  }
}
