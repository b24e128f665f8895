/**
 * requireAuth(): the guard in front of protected routes. One session read (done by express-session), no network
 * call unless the access token needs a refresh, and a session write at most once a minute (idle tracking).
 *
 * Its options are rules bound into the one middleware: claim rules and a `check` predicate answer 403 when they
 * fail (logging in again would not help, so never a redirect), and step-up rules (`acr`, `maxAge`) send a browser
 * to the IdP for a stronger or fresher login whose result the callback verifies.
 */
import type { Request, RequestHandler } from 'express';
import { nowSeconds } from '../clock.js';
import { ConfigError, ForbiddenError, StepUpRequiredError, UnauthenticatedError, passError } from '../errors.js';
import { contextOf } from '../routes/context.js';
import { type LoginRequest, startLogin } from '../routes/login.js';
import { safeReturnTo } from '../routes/return-to.js';
import type { StoredUser } from '../session/state.js';
import type { AuthenticatedUser } from '../types.js';
import { currentUser, toAuthenticatedUser } from './current-user.js';

/** A claim value a rule can require. @public */
export type ClaimRuleValue = string | number | boolean;

/** Options of {@link requireAuth}. @public */
export interface RequireAuthOptions {
  /**
   * What an unauthenticated request gets. `'auto'` (default): a GET that accepts HTML is redirected to the login
   * route with `returnTo`, anything else gets 401 JSON. `'401'`: always 401.
   */
  onUnauthenticated?: 'auto' | '401';
  /**
   * Claims the user must have: `{ email_verified: true, groups: 'admin' }`. A claim that is an array must include
   * the value; any other claim must equal it. Failing → 403 `forbidden`.
   */
  claims?: Record<string, ClaimRuleValue>;
  /** Any other rule: false → 403 `forbidden`; a thrown error goes to `next(err)` (a bug, not a denial). */
  check?: (user: AuthenticatedUser, req: Request) => boolean | Promise<boolean>;
  /**
   * Step-up: the login must have this Authentication Context Class Reference (`acr`; several space-separated values
   * mean any of them). Otherwise the browser is sent to log in again with `acr_values`.
   */
  acr?: string;
  /**
   * Step-up: the user must have authenticated at the IdP within this many seconds (`max_age`, `auth_time`;
   * clockTolerance is added as grace, so the round trip to the IdP never makes a fresh login look stale).
   */
  maxAge?: number;
}

/** True for a browser navigation (GET/HEAD preferring HTML): the requests that may be redirected to the IdP. @private */
export function wantsRedirect(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && req.accepts(['json', 'html']) === 'html';
}

/** True when every claim rule holds: array claims must include the value, others must equal it. */
function claimsMatch(claims: Record<string, unknown>, rules: Record<string, ClaimRuleValue>): boolean {
  return Object.entries(rules).every(([name, expected]) => {
    const actual = claims[name];
    return Array.isArray(actual) ? actual.includes(expected) : actual === expected;
  });
}

/** The step-up login this user still needs, or undefined when the login is strong and fresh enough. */
function stepUpNeeded(user: StoredUser, options: RequireAuthOptions, tolerance: number): Omit<LoginRequest, 'returnTo'> | undefined {
  const acrOk = options.acr === undefined || (user.acr !== undefined && options.acr.split(' ').includes(user.acr));
  // clockTolerance as grace, as openid-client applies it to auth_time: a small maxAge must not outlive the round trip.
  const ageOk =
    options.maxAge === undefined || (user.authTime !== undefined && nowSeconds() - user.authTime <= options.maxAge + tolerance);
  if (acrOk && ageOk) return undefined;
  return { ...(options.acr !== undefined && { acr: options.acr }), ...(options.maxAge !== undefined && { maxAge: options.maxAge }) };
}

function validateOptions(options: RequireAuthOptions): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) problems.push(`requireAuth claims.${name} must be a string, number or boolean`);
  }
  if (options.check !== undefined && typeof options.check !== 'function') problems.push('requireAuth check must be a function (user, req) => boolean');
  if (options.acr !== undefined && (typeof options.acr !== 'string' || !options.acr.trim())) problems.push('requireAuth acr must be a non-empty string');
  if (options.maxAge !== undefined && !(Number.isInteger(options.maxAge) && options.maxAge >= 0)) {
    problems.push('requireAuth maxAge must be a whole number of seconds (>= 0)');
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * Protects a route: with a logged-in session that satisfies the rules, sets `req.user` and calls `next()`.
 * Unauthenticated: redirects a browser to the login route (coming back here afterwards) or answers 401 JSON.
 * Rules not met: 403 `forbidden`. Step-up needed: a browser is sent to the IdP with `acr_values` / `max_age`,
 * an API request gets 401 `step_up_required`.
 * @throws {ConfigError} at once when the options are invalid.
 * @public
 */
export function requireAuth(options: RequireAuthOptions = {}): RequestHandler {
  validateOptions(options);
  const mode = options.onUnauthenticated ?? 'auto';
  return async (req, res, next) => {
    try {
      const ctx = contextOf(req);
      const user = await currentUser(req);
      if (!user) {
        if (mode === 'auto' && wantsRedirect(req)) {
          res.set('Cache-Control', 'no-store');
          res.redirect(302, `${ctx.config.loginPath}?returnTo=${encodeURIComponent(req.originalUrl)}`);
          return;
        }
        passError(req, next, new UnauthenticatedError());
        return;
      }
      const authenticated = toAuthenticatedUser(user);
      if (options.claims && !claimsMatch(user.claims, options.claims)) throw new ForbiddenError();
      if (options.check && !(await options.check(authenticated, req))) throw new ForbiddenError();
      const stepUp = stepUpNeeded(user, options, ctx.config.clockTolerance);
      // acr and auth_time come from ID tokens: a plain OAuth 2.0 login could never satisfy them, so no redirect loop.
      if (stepUp && ctx.config.protocol === 'oauth2') {
        throw new ForbiddenError(
          'This page needs a stronger or more recent sign-in, which this app\'s OAuth 2.0 identity provider cannot prove (no ID token). Contact your administrator.',
          'step_up_failed',
        );
      }
      if (stepUp) {
        if (mode === 'auto' && wantsRedirect(req)) {
          await startLogin(ctx, req, res, { ...stepUp, returnTo: safeReturnTo(req.originalUrl, ctx.config.basePath) });
          return;
        }
        throw new StepUpRequiredError();
      }
      req.user = authenticated;
      next();
    } catch (err) {
      passError(req, next, err);
    }
  };
}
