/**
 * Tokens from token exchange (RFC 8693) cached in the session, next to the user whose token they were exchanged
 * for: one per request (audience, resource, scope, requested token type), kept until shortly before they expire,
 * at most a handful per session, gone with the user at logout or the next login. Server-side like every token.
 */
import { nowSeconds } from '../clock.js';
import type { StoredExchangedToken } from '../types.js';
import type { StoredUser } from './state.js';

/** Downstream APIs a session calls are few; this bounds what a session can accumulate. */
const MAX_EXCHANGED = 8;

/** The cached token for `key`, unless it expires within `skew` seconds. @private */
export function cachedExchange(user: StoredUser, key: string, skew: number): StoredExchangedToken | undefined {
  const token = user.exchanged && Object.hasOwn(user.exchanged, key) ? user.exchanged[key] : undefined;
  return token && token.expiresAt - skew > nowSeconds() ? token : undefined;
}

/** Caches `token` under `key`, dropping expired entries and then the oldest beyond the bound. @private */
export function keepExchange(user: StoredUser, key: string, token: StoredExchangedToken): void {
  const now = nowSeconds();
  const live = Object.entries(user.exchanged ?? {}).filter(([k, t]) => k !== key && t.expiresAt > now);
  user.exchanged = Object.fromEntries([...live.slice(-(MAX_EXCHANGED - 1)), [key, token]]);
}
