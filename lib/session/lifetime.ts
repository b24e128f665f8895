/**
 * How long a session may live: the one lifetime policy, enforced by requireAuth() and used as the store's TTL, so
 * an ended session also leaves the store.
 */
import type { SessionData } from 'express-session';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';

/**
 * Seconds this session may still live, the one lifetime policy: a logged-in user's session ends at the earliest of
 * `loginAt + absoluteTimeout`, `seenAt + idleTimeout` and the upstream session ceiling (the ID token's
 * `session_expiry`, IPSIE; and `auth_time + maxSessionLifetime`, the login at the IdP, else this app's login); a
 * session holding only pending logins ends when the newest of them expires. `undefined` when the middleware keeps
 * nothing in it. Enforced by requireAuth() and used as the Redis TTL, so an ended session also leaves the store.
 * @private
 */
export function sessionLifetime(
  data: Partial<SessionData>,
  config: Pick<ResolvedConfig, 'idleTimeout' | 'absoluteTimeout' | 'loginTimeout' | 'maxSessionLifetime'>,
  now = nowSeconds(),
): number | undefined {
  const user = data.oauth?.user;
  if (user) {
    const ends = [user.loginAt + config.absoluteTimeout, user.seenAt + config.idleTimeout];
    if (user.tokens.sessionExpiry !== undefined) ends.push(user.tokens.sessionExpiry);
    if (config.maxSessionLifetime !== undefined) ends.push((user.authTime ?? user.loginAt) + config.maxSessionLifetime);
    return Math.min(...ends) - now;
  }
  const pending = Object.values(data.oauth?.pending ?? {});
  if (pending.length) return Math.max(...pending.map((p) => p.createdAt)) + config.loginTimeout - now;
  return undefined;
}
