/**
 * Pending-login updates of one session, serialised in this process: tabs restored together all hit /login with
 * the same session, and each must keep the others' pending logins.
 */
import type { Request } from 'express';
import { sessionOf } from './state.js';
import { isVersionedStore } from './versioned-store.js';

/** Session ids with a pending-login update under way in this process, and the promise that ends it. */
const updating = new Map<string, Promise<void>>();
/** Per session id, the sequence number of the last serialised update in this process (kept a few minutes). */
const lastUpdate = new Map<string, number>();
let sequence = 0;
const LOADED = Symbol('express-oauth-login.loaded');
/** Longer than any request can take between loading its session and updating it (discovery, PAR: httpTimeout). */
const REMEMBER_UPDATES_MS = 5 * 60 * 1000;

/**
 * Notes, as the request enters the middleware (right after express-session loaded its session), how far the
 * serialised updates had got, so {@link serializedUpdate} knows whether the copy this request holds is stale.
 * @private
 */
export function noteSessionLoaded(req: Request): void {
  const r = req as unknown as Record<symbol, number | undefined>;
  r[LOADED] ??= sequence;
}

/**
 * Runs `update` (which changes the session and saves it) after any other update of the same session in this
 * process, first reloading the session when another update was saved since this request loaded it. Two tabs
 * restored at once both hit /login with the same session: without this, each would save its own copy and the last
 * write would drop the other's pending login. When nothing else touched the session it costs no store call.
 * oauthSession()'s stores need none of this: their compare-and-set merges concurrent pending logins, across
 * instances too (versioned-store.ts); this remains for an app's own, unversioned store.
 * @private
 */
export async function serializedUpdate(req: Request, update: () => Promise<void>): Promise<void> {
  if (isVersionedStore(req.sessionStore)) return update();
  const id = req.sessionID;
  const before = updating.get(id);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const chained = (before ?? Promise.resolve()).then(() => mine);
  updating.set(id, chained);
  try {
    await before;
    const loadedAt = (req as unknown as Record<symbol, number | undefined>)[LOADED] ?? -1;
    if ((lastUpdate.get(id) ?? -Infinity) >= loadedAt) {
      // A session that is gone from the store (a login finished and regenerated it) keeps this request's copy.
      await new Promise<void>((resolve) => sessionOf(req).reload(() => resolve()));
    }
    await update();
    const seq = sequence++;
    lastUpdate.set(id, seq);
    setTimeout(() => {
      if (lastUpdate.get(id) === seq) lastUpdate.delete(id);
    }, REMEMBER_UPDATES_MS).unref();
  } finally {
    done();
    if (updating.get(id) === chained) updating.delete(id);
  }
}
