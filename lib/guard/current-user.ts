/**
 * The request's logged-in user, as every guard sees it: idle and absolute lifetimes enforced, the access token
 * refreshed (single flight) when it is about to expire, and the session ended when the login is no longer valid.
 */
import type { Request } from 'express';
import { nowSeconds } from '../clock.js';
import { emit } from '../events.js';
import { contextOf } from '../routes/context.js';
import { sessionLifetime } from '../session/lifetime.js';
import { destroySession, saveSession } from '../session/persistence.js';
import { forgetSessionRecord, sessionControlOn, writeSessionRecord } from '../session/session-records.js';
import { type StoredUser, sessionOf, storeTokens, storedUser } from '../session/state.js';
import type { AuthenticatedUser } from '../types.js';
import { needsRefresh, refresherOf } from './refresh.js';

/** Writing `seenAt` on every request would rewrite the session each time; once a minute is precise enough. */
const SEEN_RESOLUTION = 60;

/**
 * Updates the session's record for the session control API (session-records.ts) without holding up the request;
 * a failure only leaves the listing a little stale.
 */
function touchRecord(req: Request, user: StoredUser): void {
  const { config } = contextOf(req);
  if (!sessionControlOn(config)) return;
  writeSessionRecord(config, req, user, sessionOf(req).id, 'update').catch(() => undefined);
}

/** Ends the session whose login is over (lifetime, refused refresh), with its session-control record. */
async function endHere(req: Request): Promise<void> {
  const { config } = contextOf(req);
  if (sessionControlOn(config)) forgetSessionRecord(config, req, sessionOf(req).id).catch(() => undefined);
  await destroySession(req);
}

/** Builds `req.user` from the stored session record. @private */
export function toAuthenticatedUser(user: StoredUser): AuthenticatedUser {
  const { tokens } = user;
  return {
    sub: user.sub,
    claims: user.claims,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    ...(user.provider !== undefined && { provider: user.provider }),
    ...(user.tenant !== undefined && { tenant: user.tenant }),
    ...(tokens.expiresAt !== undefined && { expiresAt: tokens.expiresAt }),
    ...(tokens.refreshToken !== undefined && { refreshToken: tokens.refreshToken }),
    ...(tokens.idToken !== undefined && { idToken: tokens.idToken }),
    ...(tokens.scope !== undefined && { scope: tokens.scope }),
  };
}

/**
 * Resolves the session's user: enforces idle and absolute lifetimes, refreshes an expiring access token, and ends
 * the session when the login is no longer valid. Returns undefined when there is no (longer a) logged-in user.
 * @private
 */
export async function currentUser(req: Request): Promise<StoredUser | undefined> {
  const ctx = contextOf(req);
  const { config } = ctx;
  const session = sessionOf(req);
  const user = storedUser(session);
  if (!user) return undefined;
  const now = nowSeconds();
  if ((sessionLifetime(session, config, now) ?? 0) <= 0) {
    await endHere(req);
    return undefined;
  }
  // The session is written anyway when the idle stamp moves or tokens are refreshed: its session-control record
  // follows then (lastSeenAt, the tokens to revoke), once per request, so two writes of it can never land out of order.
  let touch = false;
  if (now - user.seenAt >= SEEN_RESOLUTION) {
    user.seenAt = now;
    touch = true;
  }
  if (needsRefresh(user.tokens, config.refreshSkew)) {
    const tokens = await refresherOf(ctx).refresh(user, req);
    emit(req, 'refresh', { sub: user.sub, outcome: tokens ? 'refreshed' : 'session_ended' });
    if (!tokens) {
      await endHere(req);
      return undefined;
    }
    storeTokens(session, tokens);
    // A refreshed ID token may say the upstream session is over (session_expiry): the session ends now, not later.
    if ((sessionLifetime(session, config) ?? 0) <= 0) {
      await endHere(req);
      return undefined;
    }
    // Saved now rather than when the response ends: a store failure then becomes a 503 instead of silently losing
    // a rotated refresh token.
    await saveSession(req);
    touch = true;
  }
  // After a save the request holds the copy the store accepted (merged with any newer one): record that.
  if (touch) touchRecord(req, storedUser(sessionOf(req)) ?? user);
  return user;
}
