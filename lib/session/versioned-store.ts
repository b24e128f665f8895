/**
 * Versioned, sealed session writes: the logic the Redis store (redis-store.ts) and the in-process store
 * (memory-store.ts) share; each supplies the few atomic operations of an {@link EntryBackend}.
 *
 * - Every session carries a revision. A write succeeds only if the stored revision is the one the request loaded
 *   (compare-and-set); on a conflict the request's changes are merged into the newer copy (merge.ts) and the write
 *   is tried again against that copy.
 * - A destroyed session leaves a tombstone for as long as the session could have lived, and a write that expects a
 *   revision never recreates a session that is gone: no late request revives a logout, on any instance.
 * - Reads cost one store call; a write that changes nothing costs none.
 * - Entries are sealed (session-key.ts) under the store key `storeKeyOf(id)`.
 */
import type { Request } from 'express';
import type { SessionData } from 'express-session';
import { type SessionRecord, mergeSession } from './merge.js';
import { formatEntry, isSealed, parseEntry, seal, storeKeyOf, unseal } from './session-key.js';

/** The result of a compare-and-set: written, the session ended (tombstone) or is gone, or the newer stored value. */
export type CasResult = { written: true } | { ended: true } | { current: string };

/** The atomic operations a store backend provides, each one store call, by store key. @private */
export interface EntryBackend {
  /** The stored value under `key`, if any. */
  read(key: string): Promise<string | undefined>;
  /**
   * Writes `value` for `ttlMs` if the stored revision is `expected` (0: nothing stored). A tombstone, or nothing
   * stored while a revision is expected, is `ended`; another revision returns the stored value. `loggedIn` tells a
   * tiered store (memory-store.ts) which tier the entry belongs to.
   */
  compareAndSet(key: string, expected: number, value: string, ttlMs: number, loggedIn: boolean): Promise<CasResult>;
  /** Replaces the entry by a tombstone that lives as long as the entry would have (else `fallbackMs`). */
  tombstone(key: string, fallbackMs: number): Promise<void>;
  /** A session written before sealing, under its plain id, if any (read once, then rewritten sealed). */
  readLegacy?(sessionId: string): Promise<string | undefined>;
  /** Deletes that plaintext entry. */
  deleteLegacy?(sessionId: string): Promise<void>;
}

/** What a request knows about the copy of its session it holds. */
interface Loaded {
  /** The revision loaded or last written by this request; 0 for a session it created. */
  revision: number;
  /** The serialised copy loaded or last written, to skip writes that change nothing and to merge. */
  base?: string;
  /** Pending logins this request took that another request took first (merge.ts). */
  lostClaims: string[];
  /** The session was destroyed while this request held it: nothing it writes is kept. */
  ended: boolean;
}

/** Per session object (express-session's Session): what its request loaded. */
const loaded = new WeakMap<object, Loaded>();
/** Per data object handed to express-session by get(), until createSession() turns it into a Session. */
const fresh = new WeakMap<object, Loaded>();

/** Conflicts in a row before a write gives up (each one means another write landed in between). */
const MAX_ATTEMPTS = 8;

/** How a store turns session data into text and back (connect-redis's serializer, or JSON). @private */
export interface Serializer {
  parse(text: string): SessionData | Promise<SessionData>;
  stringify(data: SessionData): string;
}

/** The shared implementation of a versioned, sealed express-session store over `backend`. @private */
export class VersionedSessions {
  constructor(
    readonly backend: EntryBackend,
    readonly serializer: Serializer,
    /** The TTL of a record in seconds (its remaining lifetime); `req` is the request writing it, when known. */
    readonly ttlOf: (record: SessionRecord, req: Request | undefined) => number,
    /** The tombstone of a session whose entry has no TTL left to copy, in seconds. */
    readonly maxLifetime: number,
    /** Seal entries (the default). Unsealed entries are read only when sealing is off: else a store writer could forge them. */
    readonly sealing = true,
  ) {}

  #pack(text: string, sessionId: string, key: string): string {
    return this.sealing ? seal(text, sessionId, key) : text;
  }

  #open(payload: string, sessionId: string, key: string): string | undefined {
    if (isSealed(payload)) return unseal(payload, sessionId, key);
    return this.sealing ? undefined : payload;
  }

  /** Loads a session: one store call (two for a session stored before sealing, once). */
  async get(sessionId: string): Promise<SessionData | null> {
    const key = storeKeyOf(sessionId);
    const value = await this.backend.read(key);
    if (value === undefined) return this.#upgrade(sessionId);
    const entry = parseEntry(value);
    if (!entry || 'ended' in entry) return null;
    const text = this.#open(entry.payload, sessionId, key);
    if (text === undefined) return null;
    const data = await this.serializer.parse(text);
    fresh.set(data, { revision: entry.revision, base: text, lostClaims: [], ended: false });
    return data;
  }

  /** A plaintext session from before sealing: read it once, write it sealed, delete the plaintext. */
  async #upgrade(sessionId: string): Promise<SessionData | null> {
    const legacy = await this.backend.readLegacy?.(sessionId);
    if (legacy === undefined) return null;
    const data = await this.serializer.parse(legacy);
    const text = this.serializer.stringify(data);
    const ttl = this.ttlOf(data as SessionRecord, undefined);
    if (ttl <= 0) return null;
    const entry = formatEntry(1, this.#pack(text, sessionId, storeKeyOf(sessionId)));
    const result = await this.backend.compareAndSet(storeKeyOf(sessionId), 0, entry, ttl * 1000, Boolean(data.oauth?.user));
    await this.backend.deleteLegacy?.(sessionId);
    if (!('written' in result)) return this.get(sessionId);
    fresh.set(data, { revision: 1, base: text, lostClaims: [], ended: false });
    return data;
  }

  /** Moves what get() learnt about `data` to the Session express-session made of it. */
  adopt(data: object, session: object): void {
    const known = fresh.get(data);
    if (known) loaded.set(session, known);
  }

  /** Writes the session with compare-and-set, merging into a newer copy on a conflict. */
  async set(sessionId: string, session: SessionData): Promise<void> {
    const key = storeKeyOf(sessionId);
    const known = loaded.get(session) ?? { revision: 0, lostClaims: [], ended: false };
    const mineText = this.serializer.stringify(session);
    if (known.ended || known.base === mineText) return;
    const req = (session as { req?: Request }).req;
    const mine = JSON.parse(mineText) as SessionRecord;
    const base = known.base === undefined ? undefined : (JSON.parse(known.base) as SessionRecord);
    let record = mine;
    let revision = known.revision;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const ttl = this.ttlOf(record, req);
      const text = record === mine ? mineText : this.serializer.stringify(record as SessionData);
      if (ttl <= 0) {
        await this.destroy(sessionId);
        loaded.set(session, { ...known, ended: true });
        return;
      }
      const entry = formatEntry(revision + 1, this.#pack(text, sessionId, key));
      const result = await this.backend.compareAndSet(key, revision, entry, ttl * 1000, Boolean(record.oauth?.user));
      if ('written' in result) {
        if (record !== mine) applyInPlace(session, record);
        loaded.set(session, { ...known, revision: revision + 1, base: this.serializer.stringify(session) });
        return;
      }
      const current = 'current' in result ? parseEntry(result.current) : undefined;
      const theirs = current && !('ended' in current) ? this.#open(current.payload, sessionId, key) : undefined;
      if (!current || 'ended' in current || theirs === undefined) {
        // Logged out (or back-channel logged out, or expired) while this request ran: its copy must not come back.
        loaded.set(session, { ...known, ended: true });
        return;
      }
      const merged = mergeSession(base, mine, (await this.serializer.parse(theirs)) as SessionRecord);
      known.lostClaims = [...new Set([...known.lostClaims, ...merged.lostClaims])];
      record = merged.record;
      revision = current.revision;
      if (this.serializer.stringify(record as SessionData) === theirs) {
        // The newer copy already holds everything this request changed (e.g. the same refresh outcome): no write.
        applyInPlace(session, record);
        loaded.set(session, { ...known, revision, base: this.serializer.stringify(session) });
        return;
      }
    }
    throw new Error(`the session changed ${MAX_ATTEMPTS} times while this request tried to save it`);
  }

  /** Destroys a session by id and leaves a tombstone. */
  destroy(sessionId: string): Promise<void> {
    return this.destroyByStoreKey(storeKeyOf(sessionId));
  }

  /** Destroys a session by store key (all the back-channel index knows) and leaves a tombstone. */
  destroyByStoreKey(storeKey: string): Promise<void> {
    return this.backend.tombstone(storeKey, this.maxLifetime * 1000);
  }
}

/** Makes the request's session object the merged copy it just wrote, so the rest of the request sees it. */
function applyInPlace(session: SessionData, record: SessionRecord): void {
  const target = session as unknown as Record<string, unknown>;
  for (const key of Object.keys(target)) if (key !== 'cookie' && !Object.hasOwn(record, key)) delete target[key];
  for (const [key, value] of Object.entries(record)) if (key !== 'cookie') target[key] = value;
}

/**
 * True when this request's write of its session was refused because the session ended meanwhile, or when it took
 * the pending login `state` but another request had taken it first (merge.ts): the callback then answers as for a
 * replay. Always false for a store that is not versioned.
 * @private
 */
export function lostClaim(session: object, state: string): boolean {
  const known = loaded.get(session);
  return known !== undefined && (known.ended || known.lostClaims.includes(state));
}

/** A store that writes with compare-and-set: oauthSession()'s Redis and in-process stores. @private */
export interface VersionedStore {
  readonly versioned: VersionedSessions;
  /** Destroys (tombstones) the session stored under `storeKey`, with the store's own deadline. */
  destroyByStoreKey(storeKey: string): Promise<void>;
}

/** True for oauthSession()'s stores (versioned and sealed). @private */
export function isVersionedStore(store: unknown): store is VersionedStore {
  return typeof store === 'object' && store !== null && (store as Partial<VersionedStore>).versioned instanceof VersionedSessions;
}
