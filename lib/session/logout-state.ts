/**
 * The session state of a logout (README "Logout"): the per-session logout token, which proves that a logout request
 * came from one of the app's own pages (the confirmation form, or the link `logoutUrl(req)` renders), and the
 * `state` of an RP-initiated logout in progress, checked when the IdP sends the browser back (RP-Initiated
 * Logout 1.0 §3). Both live in the server-side session only.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { nowSeconds } from '../clock.js';
import type { PendingLogout, ReqSession } from './state.js';

/** Constant-time equality of two secrets (lengths compared in bytes: timingSafeEqual needs equal lengths). */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A fresh logout token: 256 bits from the CSPRNG (as state and nonce), URL-safe. @private */
export function newLogoutToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The logged-in user's logout token, or undefined without a user. A session logged in before logout tokens existed
 * gets one now (the session then changed, and express-session saves it when the response ends); every newer login
 * has one from the start, so an authenticated request that renders the link writes nothing.
 * @private
 */
export function logoutTokenOf(session: ReqSession): string | undefined {
  const user = session.oauth?.user;
  if (!user) return undefined;
  return (user.logoutToken ??= newLogoutToken());
}

/** True when `candidate` is this session's logout token (constant-time comparison). @private */
export function isLogoutToken(session: ReqSession, candidate: unknown): boolean {
  const expected = session.oauth?.user?.logoutToken;
  return typeof candidate === 'string' && expected !== undefined && sameSecret(candidate, expected);
}

/** Starts the fresh session after a logout: it remembers the logout (no silent login) and the pending `state`. @private */
export function startLoggedOutSession(session: ReqSession, pending: PendingLogout | undefined): void {
  session.oauth = { silentTried: true, ...(pending && { logout: pending }) };
}

/** The provider of the logout waiting for the IdP's answer, if any (several providers share the logout route). @private */
export function pendingLogoutProvider(session: ReqSession | undefined): string | undefined {
  return session?.oauth?.logout?.provider;
}

/**
 * Checks the `state` the IdP sent back. A match is used up (single use) and returns the pending logout; so is an
 * expired one. A mismatch leaves the pending logout in place, so a forged return cannot spoil the real one.
 * @returns the pending logout when `state` matches a logout started in this session less than `ttl` seconds ago.
 * @private
 */
export function takePendingLogout(session: ReqSession, state: string, ttl: number): PendingLogout | undefined {
  const pending = session.oauth?.logout;
  if (!pending) return undefined;
  const expired = nowSeconds() - pending.createdAt >= ttl;
  const matches = sameSecret(state, pending.state);
  if (!matches && !expired) return undefined;
  delete session.oauth!.logout;
  return matches && !expired ? pending : undefined;
}
