/**
 * Session cookie settings that break logins or weaken them, reported once per process.
 */
import type { ReqSession } from './state.js';

let cookieWarned = false;

/**
 * Warns once per process about session cookie settings that break logins or weaken them: SameSite=Strict drops
 * the cookie on the IdP's cross-site redirect back (every callback then fails with state_unknown), a cookie
 * readable by scripts, one sent over plain http by an https app, or a Secure one on a request that express-session
 * takes for plain http (`secureRequest`: req.secure, which needs `trust proxy` behind a TLS-terminating proxy).
 * @private
 */
export function warnAboutCookie(session: ReqSession, secureApp: boolean, secureRequest: boolean): void {
  if (cookieWarned) return;
  const cookie = session.cookie;
  const problems: string[] = [];
  const sameSite = typeof cookie.sameSite === 'string' ? cookie.sameSite.toLowerCase() : cookie.sameSite;
  if (sameSite === 'strict' || sameSite === true) problems.push('SameSite=Strict (use "lax": the IdP redirects back cross-site)');
  if (cookie.httpOnly === false) problems.push('not HttpOnly');
  if (secureApp && !cookie.secure) problems.push('not Secure although baseURL is https');
  // express-session never sets a Secure cookie on a request it thinks came over http: every login would then fail
  // with state_unknown. Behind a TLS-terminating proxy, req.secure needs `trust proxy`.
  if (cookie.secure === true && !secureRequest) {
    problems.push("Secure but this request came over http, so it is not set (behind a TLS proxy: app.set('trust proxy', 1))");
  }
  if (problems.length === 0) return;
  cookieWarned = true;
  process.emitWarning(`express-oauth-login: the session cookie is ${problems.join(', ')}. See README "Troubleshooting".`, {
    code: 'EXPRESS_OAUTH_LOGIN_COOKIE',
    type: 'SecurityWarning',
  });
}
