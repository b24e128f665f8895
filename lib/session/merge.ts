/**
 * What a versioned write does when the session changed since the request loaded it (versioned-store.ts): the
 * request's own changes are re-applied to the newer copy where they commute, and dropped where they do not.
 *
 * - the idle stamp (`seenAt`): the later one wins;
 * - pending logins: one this request added is added, one it took is taken; a login it took that the newer copy no
 *   longer holds was taken by another request first, and is reported as lost (one redemption per callback);
 * - tokens: replaced only by this request's own refresh outcome when the newer copy still holds the tokens this
 *   request started from; a newer copy's tokens are never replaced by an older copy's;
 * - the logout token, exchanged tokens, the silent-login mark: added, never removed;
 * - the user itself: never added or removed by a merge (logins and logouts regenerate or destroy the session);
 * - the app's own top-level keys: each key this request changed is written over the newer copy's.
 */
import type { SessionData } from 'express-session';
import type { OAuthSessionState, StoredUser } from './state.js';

/** A session as stored: express-session's data (cookie included) plus whatever the app keeps. @private */
export type SessionRecord = Partial<SessionData> & Record<string, unknown>;

/** The outcome of a merge: the record to write, and the pending logins this request took but lost. @private */
export interface Merged {
  record: SessionRecord;
  lostClaims: string[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function mergePending(
  base: OAuthSessionState['pending'] = {},
  mine: OAuthSessionState['pending'] = {},
  theirs: OAuthSessionState['pending'] = {},
  lost: string[],
): OAuthSessionState['pending'] {
  const out = { ...theirs };
  for (const state of Object.keys(mine)) if (!Object.hasOwn(base, state)) out[state] = mine[state]!;
  for (const state of Object.keys(base)) {
    if (Object.hasOwn(mine, state)) continue;
    if (Object.hasOwn(out, state)) delete out[state];
    else lost.push(state);
  }
  return out;
}

function mergeUser(base: StoredUser | undefined, mine: StoredUser | undefined, theirs: StoredUser): StoredUser {
  // Another login than the one this request loaded: nothing of this request applies to it.
  if (!mine || !base || mine.sub !== theirs.sub || base.loginAt !== theirs.loginAt) return theirs;
  const out: StoredUser = { ...theirs, seenAt: Math.max(theirs.seenAt, mine.seenAt) };
  if (!same(mine.tokens, base.tokens) && same(theirs.tokens, base.tokens)) out.tokens = mine.tokens;
  if (mine.logoutToken !== undefined && theirs.logoutToken === undefined) out.logoutToken = mine.logoutToken;
  if (!same(mine.exchanged, base.exchanged)) out.exchanged = { ...theirs.exchanged, ...mine.exchanged };
  return out;
}

function mergeOAuth(
  base: OAuthSessionState | undefined,
  mine: OAuthSessionState | undefined,
  theirs: OAuthSessionState | undefined,
  lost: string[],
): OAuthSessionState | undefined {
  if (!mine && !theirs) return undefined;
  const out: OAuthSessionState = { ...theirs };
  const pending = mergePending(base?.pending, mine?.pending, theirs?.pending, lost);
  if (pending && Object.keys(pending).length) out.pending = pending;
  else delete out.pending;
  if (theirs?.user) out.user = mergeUser(base?.user, mine?.user, theirs.user);
  if (mine?.silentTried) out.silentTried = true;
  // A logout's pending state: taken (used up) by this request, or started by it.
  if (!same(mine?.logout, base?.logout)) {
    if (mine?.logout) out.logout = mine.logout;
    else if (same(theirs?.logout, base?.logout)) delete out.logout;
  }
  return out;
}

/**
 * Re-applies the changes this request made (`mine`, relative to `base`, the copy it loaded) to `theirs`, the newer
 * copy in the store. `base` is `undefined` for a session this request created.
 * @private
 */
export function mergeSession(base: SessionRecord | undefined, mine: SessionRecord, theirs: SessionRecord): Merged {
  const lostClaims: string[] = [];
  // The cookie's settings are this request's (the app may change maxAge); the store's TTL follows the login.
  const record: SessionRecord = { ...theirs, ...(mine.cookie && { cookie: mine.cookie }) };
  const keys = new Set([...Object.keys(mine), ...Object.keys(base ?? {})]);
  for (const key of keys) {
    if (key === 'oauth' || key === 'cookie') continue;
    if (same(mine[key], base?.[key])) continue;
    if (Object.hasOwn(mine, key)) record[key] = mine[key];
    else delete record[key];
  }
  const oauth = mergeOAuth(base?.oauth, mine.oauth, theirs.oauth, lostClaims);
  if (oauth) record.oauth = oauth;
  else delete record.oauth;
  return { record, lostClaims };
}
