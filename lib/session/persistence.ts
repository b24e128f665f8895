/**
 * Writing the session: save now (so a store failure becomes an error response rather than a lost login),
 * regenerate (a new id at login and logout: RFC 9700 §4.8 session fixation), destroy. Every store failure becomes a
 * 503 SessionStoreError.
 */
import type { Request } from 'express';
import { SessionStoreError } from '../errors.js';
import { type PendingLogin, type ReqSession, type StoredUser, sessionOf, takePendingLogin } from './state.js';
import { isVersionedStore, lostClaim } from './versioned-store.js';

function storeFailure(err: unknown): SessionStoreError {
  return err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err });
}

/**
 * Replaces the session with a new, empty one under a new id; the old id is destroyed in the store. @private
 */
export async function regenerateSession(req: Request): Promise<ReqSession> {
  await new Promise<void>((resolve, reject) => {
    sessionOf(req).regenerate((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
  return sessionOf(req);
}

/**
 * Issues a new session id (defeats session fixation) and stores the user in it. Other logins still pending in
 * this browser (other tabs) move to the new session so they can finish too.
 * @private
 */
export async function regenerateWithUser(
  req: Request,
  user: StoredUser,
  beforeSave?: (sessionId: string) => Promise<void>,
): Promise<void> {
  const pending = sessionOf(req).oauth?.pending;
  const session = await regenerateSession(req);
  // E.g. index the new id for back-channel logout: if that fails, the user is never stored (no half-made login).
  if (beforeSave) await beforeSave(session.id);
  session.oauth = pending && Object.keys(pending).length ? { pending, user } : { user };
  await saveSession(req);
}

/** What express-session compares to decide whether a session changed: everything but the cookie. */
function serialize(session: ReqSession): string {
  return JSON.stringify(session, function (this: unknown, key, value: unknown) {
    return this === session && key === 'cookie' ? undefined : value;
  });
}

/** The session as last written by a save we made, per session object. */
const lastSaved = new WeakMap<object, string>();

/**
 * express-session tracks changes only on the session it loaded: one created by `regenerate()` is written again
 * when the response ends, although the callback has just saved it (a second SET of the whole session per login).
 * This gives such a session a `save` that skips a write when nothing changed since the last one. Sessions that
 * express-session loaded or created itself carry its own change-tracking `save` and are left alone.
 */
function skipUnchangedSaves(session: ReqSession): void {
  if (Object.hasOwn(session, 'save')) return;
  // Called below with .call(this): the prototype's save, bound to this very session.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const save = (Object.getPrototypeOf(session) as ReqSession).save;
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value(this: ReqSession, callback?: (err?: unknown) => void) {
      const snapshot = serialize(this);
      if (lastSaved.get(this) === snapshot) {
        if (callback) process.nextTick(callback);
        return this;
      }
      return save.call(this, (err?: unknown) => {
        if (!err) lastSaved.set(this, snapshot);
        callback?.(err);
      });
    },
  });
}

/** Saves the session now, so a store failure becomes an error response rather than a lost login. @private */
export function saveSession(req: Request): Promise<void> {
  const session = sessionOf(req);
  skipUnchangedSaves(session);
  return new Promise((resolve, reject) => {
    session.save((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
}

/** Ends the session in the store. @private */
export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    sessionOf(req).destroy((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
}

/**
 * Takes the pending login for `state` and, on a versioned store (oauthSession()'s), claims it in the store before
 * anything is sent to the token endpoint: of two deliveries of one callback (a double click, a browser retry, a
 * replay), on one instance or on two, exactly one gets the login; the other gets `undefined`, as for a replay.
 * Costs one compare-and-set write. On an app's own unversioned store it only takes it from this request's copy.
 * @private
 */
export async function claimPendingLogin(
  req: Request,
  state: string,
  ttl: number,
): Promise<{ login: PendingLogin; expired: boolean } | undefined> {
  const session = sessionOf(req);
  const taken = takePendingLogin(session, state, ttl);
  if (!taken || !isVersionedStore(req.sessionStore)) return taken;
  await saveSession(req);
  return lostClaim(sessionOf(req), state) ? undefined : taken;
}
