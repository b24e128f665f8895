/**
 * The in-process store of oauthSession() without Redis: versioned and sealed like the Redis store
 * (versioned-store.ts), and bounded (README "Sessions in process memory"). Built on lru-cache, in two tiers so a
 * flood of anonymous sessions (a loop of /login) can never evict a logged-in user:
 * - logged-in sessions: at most `maxSessions` entries and `maxBytes` bytes;
 * - anonymous sessions (pending logins, app data without a login): at most `maxAnonymousSessions` / `maxAnonymousBytes`.
 * Each tier evicts its least recently used entry at the bound; every entry expires with its TTL (the session's
 * remaining lifetime: `loginTimeout` for pending logins). Tombstones live in a third, entry-bounded tier; one that
 * is evicted early costs nothing, as a write that expects a revision never recreates a missing session.
 */
import type { Request } from 'express';
import session, { type Session, type SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import { type StoreOperation, storeTimer } from '../telemetry.js';
import type { SessionRecord } from './merge.js';
import { TOMBSTONE, parseEntry } from './session-key.js';
import { type CasResult, type EntryBackend, type VersionedStore, VersionedSessions } from './versioned-store.js';

/** The bounds of the in-process store. @private */
export interface MemoryBounds {
  maxSessions: number;
  maxBytes: number;
  maxAnonymousSessions: number;
  maxAnonymousBytes: number;
}

/** The options of {@link BoundedMemoryStore}. @private */
export interface MemoryStoreOptions extends MemoryBounds {
  ttl: (record: SessionRecord, req: Request | undefined) => number;
  /** The longest a session can live (s): the tombstone of an entry without a TTL. */
  maxLifetime: number;
  /** Seal sessions at rest (default true). */
  seal?: boolean;
}

type Tier = LRUCache<string, string>;

function tier(max: number, maxSize: number): Tier {
  // Sizes in characters of the sealed entry (ASCII: one byte each) plus its key.
  return new LRUCache<string, string>({ max, maxSize, sizeCalculation: (value, key) => value.length + key.length });
}

/** What the in-process store holds right now (expired entries purged first): for diagnostics and tests. @private */
export interface MemoryStoreStats {
  /** Logged-in sessions, and their size in bytes. */
  sessions: number;
  bytes: number;
  /** Anonymous sessions (pending logins, app data without a login), and their size in bytes. */
  anonymousSessions: number;
  anonymousBytes: number;
  /** The longest time an anonymous session has left, in seconds (0 without any). */
  anonymousTtlMax: number;
  tombstones: number;
}

function memoryBackend(bounds: MemoryBounds): { backend: EntryBackend; stats: () => MemoryStoreStats } {
  const users = tier(bounds.maxSessions, bounds.maxBytes);
  const anonymous = tier(bounds.maxAnonymousSessions, bounds.maxAnonymousBytes);
  const tombstones = new LRUCache<string, true>({ max: bounds.maxSessions + bounds.maxAnonymousSessions });
  const stored = (key: string): string | undefined => users.get(key) ?? anonymous.get(key);
  const stats = (): MemoryStoreStats => {
    for (const t of [users, anonymous]) t.purgeStale();
    tombstones.purgeStale();
    const ttls = [...anonymous.keys()].map((k) => anonymous.getRemainingTTL(k));
    return {
      sessions: users.size,
      bytes: users.calculatedSize,
      anonymousSessions: anonymous.size,
      anonymousBytes: anonymous.calculatedSize,
      anonymousTtlMax: Math.ceil(Math.max(0, ...ttls) / 1000),
      tombstones: tombstones.size,
    };
  };
  const backend: EntryBackend = {
    read: async (key) => (tombstones.has(key) ? TOMBSTONE : stored(key)),
    compareAndSet: async (key, expected, value, ttlMs, loggedIn): Promise<CasResult> => {
      if (tombstones.has(key)) return { ended: true };
      const current = users.peek(key) ?? anonymous.peek(key);
      if (current === undefined && expected !== 0) return { ended: true };
      if (current !== undefined) {
        const entry = parseEntry(current);
        if (!entry || 'ended' in entry) return { ended: true };
        if (entry.revision !== expected) return { current };
      }
      const [into, other] = loggedIn ? [users, anonymous] : [anonymous, users];
      other.delete(key);
      into.set(key, value, { ttl: Math.max(1, Math.ceil(ttlMs)) });
      // lru-cache refuses an entry bigger than the whole tier: say so rather than lose the session silently.
      if (into.peek(key) !== value) throw new Error('the session is larger than the in-process store allows (maxBytes)');
      return { written: true };
    },
    tombstone: async (key, fallbackMs) => {
      const left = Math.max(users.getRemainingTTL(key), anonymous.getRemainingTTL(key));
      users.delete(key);
      anonymous.delete(key);
      tombstones.set(key, true, { ttl: left > 0 && Number.isFinite(left) ? left : fallbackMs });
    },
  };
  return { backend, stats };
}

type Callback<T> = (err?: unknown, data?: T) => void;

/** express-session's Store over lru-cache, versioned and sealed; oauthSession() without Redis builds it. @private */
export class BoundedMemoryStore extends session.Store implements VersionedStore {
  readonly versioned: VersionedSessions;
  /** What the store holds right now, against its bounds. */
  readonly stats: () => MemoryStoreStats;
  // Idle time is tracked in the session itself (seenAt, written at most once a minute): no per-request touch.
  declare touch: undefined;

  constructor(options: MemoryStoreOptions) {
    super();
    Object.defineProperty(this, 'touch', { value: undefined });
    const { backend, stats } = memoryBackend(options);
    this.stats = stats;
    this.versioned = new VersionedSessions(backend, JSON, options.ttl, options.maxLifetime, options.seal ?? true);
  }

  #run<T>(operation: StoreOperation, call: () => Promise<T>, cb: Callback<T> | undefined): void {
    const done = storeTimer('memory', operation);
    call().then(
      (data) => {
        done?.();
        cb?.(null, data);
      },
      (err: unknown) => {
        done?.(err);
        cb?.(err);
      },
    );
  }

  override get(sid: string, cb: (err: unknown, data?: SessionData | null) => void): void {
    this.#run('get', () => this.versioned.get(sid), cb);
  }

  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    this.#run('set', () => this.versioned.set(sid, sess), cb);
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.#run('destroy', () => this.versioned.destroy(sid), cb);
  }

  /** Destroys (tombstones) the session stored under `storeKey`. */
  destroyByStoreKey(storeKey: string): Promise<void> {
    return this.versioned.destroyByStoreKey(storeKey);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const created = super.createSession(req, data);
    this.versioned.adopt(data, created);
    return created;
  }
}
