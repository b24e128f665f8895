/**
 * Every failure the middleware reports, as a class with a stable `code`, an HTTP `status` and a message that
 * tells the reader what to do next. This file is the one place that decides statuses.
 *
 * Messages never contain authorization codes, tokens, secrets or PKCE verifiers: they are shown to browsers
 * and written to logs.
 */
import type { NextFunction, Request, Response } from 'express';
import { emitError } from './events.js';

/** Stable, machine-readable error codes. Documented in README ("Error codes"). @public */
export type OAuthErrorCode =
  | 'config_invalid'
  | 'session_missing'
  | 'not_mounted'
  | 'callback_invalid'
  | 'state_missing'
  | 'state_unknown'
  | 'login_expired'
  | 'idp_error'
  | 'id_token_invalid'
  | 'token_endpoint_error'
  | 'idp_unavailable'
  | 'idp_timeout'
  | 'idp_bad_response'
  | 'idp_unsupported'
  | 'unauthenticated'
  | 'forbidden'
  | 'step_up_failed'
  | 'login_rejected'
  | 'step_up_required'
  | 'userinfo_invalid'
  | 'session_store_unavailable'
  | 'logout_token_invalid';

/**
 * Base class of every error the middleware passes to `next(err)`.
 * `expose` is true: the message is written for end users and safe to render.
 * @public
 */
export class OAuthLoginError extends Error {
  /** Stable error code, see {@link OAuthErrorCode}. */
  readonly code: OAuthErrorCode;
  /** HTTP status the response should carry. */
  readonly status: number;
  /** Alias of `status` for error handlers that read `statusCode`. */
  readonly statusCode: number;
  /** Tells Express' and Koa-style handlers that the message is safe to show. */
  readonly expose = true;

  constructor(code: OAuthErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.statusCode = status;
  }

  /** A JSON body for API clients: never includes the cause, which may hold IdP internals. */
  toJSON(): { error: OAuthErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

/** The configuration given to `oauthLogin()` or `oauthSession()` is invalid. Thrown at start-up. @public */
export class ConfigError extends OAuthLoginError {
  /** One entry per problem, each naming the field and what to fix. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config_invalid', 500, `express-oauth-login: invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** The middleware is mounted in the wrong place (no session, or requireAuth without oauthLogin). @public */
export class SetupError extends OAuthLoginError {}

/**
 * The callback cannot be matched to a login this browser started: no state, an unknown or already used state,
 * or a login that took too long. The user should simply start again.
 * @public
 */
export class LoginStateError extends OAuthLoginError {}

/** The identity provider answered the authorization request with `error=` (RFC 6749 §4.1.2.1). @public */
export class IdpError extends OAuthLoginError {
  /** The OAuth error code the IdP sent, such as `access_denied`. */
  readonly idpError: string;
  constructor(idpError: string, status: number, message: string, options?: { cause?: unknown }) {
    super('idp_error', status, message, options);
    this.idpError = idpError;
  }
}

/** The ID token (or the token response around it) failed validation. @public */
export class TokenValidationError extends OAuthLoginError {}

/** The token endpoint refused the request (RFC 6749 §5.2), e.g. `invalid_grant`. @public */
export class TokenEndpointError extends OAuthLoginError {
  /** The OAuth error code the token endpoint sent. */
  readonly idpError: string;
  constructor(idpError: string, message: string, options?: { cause?: unknown }) {
    super('token_endpoint_error', 400, message, options);
    this.idpError = idpError;
  }
}

/** The identity provider could not be reached, was too slow, or answered with something unusable. @public */
export class IdpUnavailableError extends OAuthLoginError {}

/** The request needs a logged-in user and has none. @public */
export class UnauthenticatedError extends OAuthLoginError {
  constructor(message = 'Authentication required: log in and try again.') {
    super('unauthenticated', 401, message);
  }
}

/**
 * The user is logged in but does not satisfy the route's rules (`forbidden`), came back from a step-up login
 * without the required authentication level (`step_up_failed`), or the app's afterCallback hook refused the login
 * (`login_rejected`). Always 403: logging in again would not help, so it never redirects to the IdP.
 * @public
 */
export class ForbiddenError extends OAuthLoginError {
  constructor(
    message = 'You are logged in but not allowed to access this resource.',
    code: 'forbidden' | 'step_up_failed' | 'login_rejected' = 'forbidden',
  ) {
    super(code, 403, message);
  }
}

/**
 * A request that cannot be redirected (an API call) reached a route that needs a stronger or more recent login
 * (RFC 9470 calls this insufficient_user_authentication).
 * @public
 */
export class StepUpRequiredError extends OAuthLoginError {
  constructor() {
    super('step_up_required', 401, 'This resource needs a stronger or more recent sign-in: open it in the browser to sign in again.');
  }
}

/** A back-channel logout token failed validation (OpenID Connect Back-Channel Logout 1.0 §2.6). @public */
export class LogoutTokenError extends OAuthLoginError {
  constructor(detail: string) {
    super('logout_token_invalid', 400, `The logout token was rejected: ${detail}.`);
  }
}

/** The session store (e.g. Redis) failed or timed out: fail closed with 503. @public */
export class SessionStoreError extends OAuthLoginError {
  constructor(options?: { cause?: unknown }) {
    super(
      'session_store_unavailable',
      503,
      'The session store is temporarily unavailable. Please try again in a moment.',
      options,
    );
  }
}

/** Finds an error of class `type` in `err` or its `cause` chain. @private */
export function findCause<T>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for HTML. @private */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Renders the default error page (or JSON for API clients). Used when the app has no error handler of its own
 * and by {@link oauthErrorHandler}.
 * @private
 */
export function renderError(
  req: Request,
  res: Response,
  err: OAuthLoginError,
  loginPath: string,
  format?: 'json',
): void {
  if (res.headersSent) return;
  res.status(err.status);
  res.set('Cache-Control', 'no-store');
  if (err.status === 503) res.set('Retry-After', '5');
  if (format === 'json' || req.accepts(['html', 'json']) !== 'html') {
    res.json(err.toJSON());
    return;
  }
  const startAgain = err.status < 500 || err.status === 503;
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Sign-in problem</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}code{background:#f0f2f5;padding:.1rem .3rem;border-radius:3px}
a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;background:#2457d6;color:#fff;border-radius:4px;text-decoration:none}</style>
</head><body><main>
<h1>${err.status === 503 ? 'Temporarily unavailable' : err.code === 'forbidden' ? 'Access denied' : 'We could not sign you in'}</h1>
<p>${escapeHtml(err.message)}</p>
<p>Error code: <code>${escapeHtml(err.code)}</code></p>
${startAgain ? `<a class="button" href="${escapeHtml(loginPath)}">Start again</a>` : ''}
<p><a href="/">Go to the home page</a></p>
</main></body></html>`);
}

type Layer = { handle?: { length?: number } };
/** True when the app registered an error-handling middleware (four arguments) that can render our error. */
function appHasErrorHandler(req: Request): boolean {
  const app = req.app as unknown as { router?: { stack?: Layer[] }; _router?: { stack?: Layer[] } };
  const stack = app.router?.stack ?? app._router?.stack ?? [];
  return stack.some((layer) => layer.handle?.length === 4);
}

/**
 * Hands an error to the app's error handler through `next(err)`; when the app has none, renders the default page
 * instead of letting Express print a stack trace.
 * @private
 */
export function passError(
  req: Request,
  res: Response,
  next: NextFunction,
  err: unknown,
  loginPath: string,
  format?: 'json',
): void {
  if (err instanceof OAuthLoginError) emitError(req, err);
  if (err instanceof OAuthLoginError && !appHasErrorHandler(req)) {
    renderError(req, res, err, loginPath, format);
    return;
  }
  next(err);
}

/** Error names and messages of ioredis / connect-redis failures (ioredis throws plain Errors for most of them). */
const REDIS_ERROR_NAMES = new Set(['ReplyError', 'AbortError', 'RedisError', 'ParserError', 'MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const REDIS_ERROR_MESSAGES =
  /^(Connection is closed|Stream isn't writeable|Command timed out|None of startup nodes is available|Cluster is disconnect|Cluster isn't ready|Redis did not answer)/;

/**
 * True when `err` is a session store failure: ours, an ioredis error, or any error express-session passed on while
 * loading the session (then `req.session` is missing although a store is mounted).
 * @private
 */
export function isStoreFailure(req: Request, err: unknown): boolean {
  if (findCause(err, SessionStoreError)) return true;
  const e = err as { name?: unknown; message?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  if (typeof e.name === 'string' && REDIS_ERROR_NAMES.has(e.name)) return true;
  if (typeof e.message === 'string' && REDIS_ERROR_MESSAGES.test(e.message)) return true;
  const r = req as { session?: unknown; sessionStore?: unknown };
  return r.session === undefined && r.sessionStore !== undefined;
}

/**
 * An Express error handler for apps that mount express-session themselves (oauthSession() needs none): renders
 * this middleware's errors with the default page (or JSON for API clients) and turns session store failures into
 * 503 `session_store_unavailable` (fail closed) instead of a 500. Other errors go on to the next handler.
 *
 * @example
 * ```ts
 * app.use(session({ store: new RedisStore({ client }), ... }));
 * app.use(oauthLogin(config));
 * // ...routes...
 * app.use(oauthErrorHandler());
 * ```
 * @public
 */
export function oauthErrorHandler(options: { loginPath?: string } = {}): (
  err: unknown,
  req: Request,
  res: Response,
  next: NextFunction,
) => void {
  return (err, req, res, next) => {
    const ours = err instanceof OAuthLoginError ? err : isStoreFailure(req, err) ? new SessionStoreError({ cause: err }) : undefined;
    if (!ours || res.headersSent) {
      next(err);
      return;
    }
    renderError(req, res, ours, options.loginPath ?? '/login');
  };
}
