/**
 * The session control API (README "Session control"): a user's sessions listed, one ended, all ended ("log out
 * everywhere"), and sessions ended by admin code without a request. Works on MemoryStore and Redis and across
 * instances: the sessions are found through the session index (sid-index.ts) and their records
 * (session-records.ts), and ended in the store by index entry, with a tombstone on oauthSession()'s stores so
 * that no request in flight brings one back. Each ended session's tokens are revoked at the IdP (RFC 7009,
 * revocation.ts), bounded by httpTimeout, never failing the ending.
 *
 * Needs `sessionControl: true` in oauthLogin(): only then is every login recorded.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Store } from 'express-session';
import { type RevocationError, SessionStoreError, SetupError } from '../errors.js';
import { emit, emitError, emitTo } from '../events.js';
import { revokeTokens } from '../idp/revocation.js';
import { destroySession } from '../session/persistence.js';
import { coordinationForStore } from '../session/redis.js';
import { endSessionByIndexEntry, indexEntryOf } from '../session/sealed-store.js';
import { type IndexedSession, handleOf, indexedSessions, sessionControlOn } from '../session/session-records.js';
import { type SessionIndex, indexKeys, sessionIndexFor, sessionIndexForStore } from '../session/sid-index.js';
import { logoutTokenOf } from '../session/logout-state.js';
import { type StoredUser, sessionOf, storedUser } from '../session/state.js';
import { type Context, contextOf, registeredContexts } from './context.js';
import { requestSite } from './request-site.js';

/** One session of the current user, as `listSessions()` returns it. @public */
export interface SessionInfo {
  /** Opaque: pass it to `endSession()`. Not a session id, and useless with another user's session. */
  handle: string;
  /** Seconds since the epoch: when this session logged in. */
  createdAt: number;
  /** Seconds since the epoch: its last activity, at most about a minute off. */
  lastSeenAt: number;
  /** The IdP's session id (ID token `sid`), when the IdP sent one. */
  sid?: string;
  /** The provider's `name` (several providers). */
  provider?: string;
  /** True for the session of the request that asked. */
  current: boolean;
  /** A coarse browser label such as "Firefox on Linux". */
  userAgent: string;
  /** The client IP at the last update, only with `sessionControl: { recordIp: true }`. */
  ip?: string;
}

/** What `endSessions()` ends: every session of a user, of one IdP session, or of a user at one provider. @public */
export type SessionSelector = { sub: string; provider?: string } | { sid: string; provider?: string };

function requireSessionControl(ctx: Context, what: string): void {
  if (!sessionControlOn(ctx.config)) {
    throw new SetupError('config_invalid', 500, `${what} needs sessionControl: true in oauthLogin(), which records every login for it.`);
  }
}

/** Ends one indexed session: revokes its tokens (from its record), ends it in the store, forgets it in the index. */
async function endIndexed(ctx: Context, store: Store, index: SessionIndex, found: IndexedSession, failed: (e: RevocationError) => void): Promise<void> {
  const revocation = found.record?.tokens ? revokeTokens(ctx, found.record.tokens) : undefined;
  await endSessionByIndexEntry(store, found.entry).catch((err: unknown) => {
    throw err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err });
  });
  const keys = found.record ? indexKeys(ctx.config.issuer, found.record.sub, found.record.sid) : {};
  await index.remove(Object.values(keys), found.entry);
  await index.dropRecord(found.entry);
  for (const failure of (await revocation)?.failures ?? []) failed(failure);
}

/** The current request's user and sessions, or none when nobody is logged in. */
async function ownSessions(req: Request, what: string): Promise<{ ctx: Context; user: StoredUser; sessions: IndexedSession[]; current: string } | undefined> {
  const ctx = contextOf(req);
  requireSessionControl(ctx, what);
  const session = sessionOf(req);
  const user = storedUser(session);
  if (!user) return undefined;
  const sessions = await indexedSessions(ctx.config, sessionIndexFor(ctx.config, req), { sub: user.sub });
  // Only sessions whose record says they belong to this user (and provider): never another user's.
  const own = sessions.filter((s) => s.record && s.record.sub === user.sub && s.record.provider === user.provider);
  return { ctx, user, sessions: own, current: indexEntryOf(req, session.id) };
}

/**
 * The current user's sessions, across browsers and instances, the current one first (then the most recently seen).
 * An anonymous request gets `[]`. No session id, token or logout token is in the answer.
 * @throws {SetupError} without `sessionControl: true`; {@link SessionStoreError} when the store fails.
 * @public
 */
export async function listSessions(req: Request): Promise<SessionInfo[]> {
  const own = await ownSessions(req, 'listSessions()');
  if (!own) return [];
  const list = own.sessions.map(({ entry, record }): SessionInfo => {
    const r = record!;
    return {
      handle: handleOf(entry),
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
      ...(r.sid !== undefined && { sid: r.sid }),
      ...(r.provider !== undefined && { provider: r.provider }),
      current: entry === own.current,
      userAgent: r.userAgent,
      ...(r.ip !== undefined && { ip: r.ip }),
    };
  });
  return list.sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
}

/** Ends the sessions of `own` that `pick` chooses; the current one with this request (destroySession). */
async function endOwn(req: Request, what: string, pick: (s: IndexedSession, current: boolean) => boolean): Promise<number> {
  const own = await ownSessions(req, what);
  if (!own) return 0;
  const { ctx, user } = own;
  const index = sessionIndexFor(ctx.config, req);
  let ended = 0;
  let endsCurrent = false;
  for (const found of own.sessions) {
    const current = found.entry === own.current;
    if (!pick(found, current)) continue;
    if (current) endsCurrent = true;
    else await endIndexed(ctx, req.sessionStore, index, found, (failure) => emitError(req, failure));
    ended++;
  }
  if (endsCurrent) {
    const revocation = revokeTokens(ctx, user.tokens);
    await destroySession(req);
    await index.remove(Object.values(indexKeys(ctx.config.issuer, user.sub, user.sid)), own.current);
    await index.dropRecord(own.current);
    for (const failure of (await revocation).failures) emitError(req, failure);
  }
  if (ended > 0) emit(req, 'sessionsEnded', { sub: user.sub, by: 'user', sessions: ended });
  return ended;
}

/**
 * Ends one of the current user's sessions, named by its `handle` from {@link listSessions}, and revokes its tokens.
 * Ending the current one logs this request out (as `destroySession`; no IdP logout). Returns false when the handle
 * names none of the user's sessions (already ended, or another user's): nothing is ended then.
 * @public
 */
export async function endSession(req: Request, handle: string): Promise<boolean> {
  return (await endOwn(req, 'endSession()', (s) => typeof handle === 'string' && handleOf(s.entry) === handle)) > 0;
}

/**
 * "Log out everywhere": ends every session of the current user on every browser and instance and revokes their
 * tokens; with `exceptCurrent: true` the session of this request stays. Returns how many were ended.
 * @public
 */
export async function endAllSessions(req: Request, options: { exceptCurrent?: boolean } = {}): Promise<number> {
  return endOwn(req, 'endAllSessions()', (_s, current) => !(current && options.exceptCurrent));
}

/**
 * For admin code without a request (a password change, a stolen laptop, a kill switch): ends every session of a
 * user (`{ sub }`), of one IdP session (`{ sid }`), optionally at one provider (`provider`: its `name`), in every
 * `oauthLogin()` of this process with `sessionControl: true` (through Redis: sessions of every instance), and
 * revokes their tokens. A `sessionsEnded` event (`by: 'admin'`) goes to each configuration's `events`. Returns how
 * many sessions were ended. The sessions must have been stored through a store a request of this process used.
 * @public
 */
export async function endSessions(selector: SessionSelector): Promise<number> {
  const sub = 'sub' in selector && typeof selector.sub === 'string' ? selector.sub : undefined;
  const sid = 'sid' in selector && typeof selector.sid === 'string' ? selector.sid : undefined;
  if (sub === undefined && sid === undefined) throw new TypeError('endSessions() needs { sub } or { sid }');
  let ended = 0;
  for (const [ctx, stores] of registeredContexts()) {
    if (!sessionControlOn(ctx.config) || (selector.provider !== undefined && ctx.config.name !== selector.provider)) continue;
    let here = 0;
    for (const store of stores) {
      // A store whose Redis connection the app closed (an app that was shut down) has nothing left to end.
      if (coordinationForStore(ctx.config, store)?.client.status === 'end') continue;
      const index = sessionIndexForStore(ctx.config, store);
      const found = await indexedSessions(ctx.config, index, { ...(sub !== undefined && { sub }), ...(sid !== undefined && { sid }) });
      for (const session of found) {
        await endIndexed(ctx, store, index, session, (failure) =>
          emitTo(ctx.config.events, 'error', { code: failure.code, status: failure.status, message: failure.message, path: '' }),
        );
        here++;
      }
    }
    if (here > 0) {
      emitTo(ctx.config.events, 'sessionsEnded', { ...(sub !== undefined && { sub }), ...(sid !== undefined && { sid }), by: 'admin', sessions: here });
    }
    ended += here;
  }
  return ended;
}

/**
 * The per-session token for the app's own forms that end sessions (a "Your sessions" page): put it in a hidden
 * field and check the POST with {@link isSessionFormRequest}. Derived from the session's logout token (HMAC), so
 * the page never shows that token itself; `undefined` without a logged-in user.
 * @public
 */
export function sessionFormToken(req: Request): string | undefined {
  const secret = logoutTokenOf(sessionOf(req));
  return secret === undefined ? undefined : createHmac('sha256', secret).update('express-oauth-login session form').digest('base64url');
}

/**
 * CSRF check for such a form: true when the request is not cross-site (Origin, else Sec-Fetch-Site, else Referer,
 * as the logout route checks; `logoutOrigins` count as the app's own) and carries this session's
 * {@link sessionFormToken}. A request another site makes the browser send fails it.
 * @public
 */
export function isSessionFormRequest(req: Request, token: unknown): boolean {
  const expected = sessionFormToken(req);
  if (expected === undefined || typeof token !== 'string' || token.length !== expected.length) return false;
  if (requestSite(req, contextOf(req).config.logoutAllowedOrigins) === 'cross-site') return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(expected));
}
