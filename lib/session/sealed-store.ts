/**
 * Sealing for an express-session store the app builds itself, and the one way to end a session given only what
 * the back-channel index holds (its index entry).
 *
 * `sealedStore(store)` stores each session under `storeKeyOf(id)` as `{ cookie, sealed }`: the cookie (dates only:
 * most stores derive their TTL from it) and the session sealed under its id (session-key.ts). It does not make the
 * store versioned: compare-and-set and tombstones need oauthSession()'s own stores (README "What is guaranteed").
 */
import type { Request } from 'express';
import session, { type SessionData, type Store } from 'express-session';
import { seal, storeKeyOf, unseal } from './session-key.js';
import { isVersionedStore } from './versioned-store.js';

type Callback<T> = (err?: unknown, data?: T) => void;

/** `store.destroy(id)` as a promise; a failure rejects with an Error (the store's own, or one that wraps it). */
function destroyIn(store: Store, id: string): Promise<void> {
  return new Promise((resolve, reject) =>
    store.destroy(id, (err?: unknown) => (err ? reject(err instanceof Error ? err : new Error('the session store failed', { cause: err })) : resolve())),
  );
}

/** What a sealed store hands the inner store: the cookie and the sealed session. */
interface SealedRecord {
  cookie: SessionData['cookie'];
  sealed: string;
}

const isSealedRecord = (value: unknown): value is SealedRecord =>
  typeof value === 'object' && value !== null && typeof (value as SealedRecord).sealed === 'string';

/** The wrapper sealedStore() returns. @private */
class SealedStore extends session.Store {
  constructor(readonly inner: Store) {
    super();
    if (typeof inner.touch !== 'function') Object.defineProperty(this, 'touch', { value: undefined });
  }

  override get(sid: string, cb: (err: unknown, data?: SessionData | null) => void): void {
    this.inner.get(storeKeyOf(sid), (err: unknown, stored?: SessionData | null) => {
      if (err) return cb(err);
      const text = isSealedRecord(stored) ? unseal(stored.sealed, sid) : undefined;
      if (text === undefined) return cb(null, null);
      try {
        cb(null, JSON.parse(text) as SessionData);
      } catch (parseError) {
        cb(parseError);
      }
    });
  }

  override set(sid: string, sess: SessionData, cb?: Callback<void>): void {
    const record: SealedRecord = { cookie: sess.cookie, sealed: seal(JSON.stringify(sess), sid) };
    this.inner.set(storeKeyOf(sid), record, cb);
  }

  override destroy(sid: string, cb?: Callback<void>): void {
    this.inner.destroy(storeKeyOf(sid), cb);
  }

  override touch(sid: string, sess: SessionData, cb?: () => void): void {
    const record: SealedRecord = { cookie: sess.cookie, sealed: seal(JSON.stringify(sess), sid) };
    this.inner.touch?.(storeKeyOf(sid), record, cb);
  }

  /** Destroys the session stored under `storeKey` in the inner store. */
  destroyByStoreKey(storeKey: string): Promise<void> {
    return destroyIn(this.inner, storeKey);
  }
}

/**
 * Wraps an express-session store so that what it holds is sealed: each session is encrypted and authenticated
 * (AES-256-GCM) under a key derived from its id, and stored under a hash of the id (`storeKeyOf`), so a dump of the
 * store yields no token, claim or usable session id. For an app that mounts express-session with a store of its
 * own; oauthSession()'s stores are sealed already. Sessions the inner store held before are not readable through
 * the wrapper (their users sign in again).
 * @example
 * ```ts
 * app.use(session({ store: sealedStore(new MyStore()), secret, resave: false, saveUninitialized: false }));
 * ```
 * @public
 */
export function sealedStore<S extends Store>(store: S): Store {
  return new SealedStore(store);
}

/** What storeKeyOf() returns: 43 base64url characters (SHA-256). */
const STORE_KEY = /^[A-Za-z0-9_-]{43}$/;

type Destroyable = { destroyByStoreKey(storeKey: string): Promise<void> };
const byStoreKey = (store: unknown): store is Destroyable =>
  isVersionedStore(store) || store instanceof SealedStore;

/**
 * What the back-channel index (sid-index.ts) records for a session: its store key `storeKeyOf(id)` when the store
 * keys sessions by it (oauthSession()'s stores, sealedStore()), else the id itself (an app's own unsealed store:
 * README says such sessions are not sealed).
 * @private
 */
export function indexEntryOf(req: Request, sessionId: string): string {
  return byStoreKey(req.sessionStore) ? storeKeyOf(sessionId) : sessionId;
}

/**
 * Ends the session an index entry names ({@link indexEntryOf}): destroys it and, on oauthSession()'s stores,
 * leaves a tombstone so that no request still in flight can write it back, on any instance. Harmless for a
 * session that already ended. Store failures reject (callers turn them into a 503 SessionStoreError).
 * @private
 */
export function endSessionByIndexEntry(store: Store, entry: string): Promise<void> {
  // A session id indexed before sealing (ids are 32 characters, store keys 43): destroyed by id, hashed here.
  if (byStoreKey(store) && STORE_KEY.test(entry)) return store.destroyByStoreKey(entry);
  return destroyIn(store, entry);
}
