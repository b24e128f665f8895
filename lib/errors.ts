/**
 * Every failure the middleware reports, as a class with a stable `code`, an HTTP `status` and a message that
 * tells the reader what to do next. This file is the one place that decides statuses.
 *
 * Messages never contain authorization codes, tokens, secrets or PKCE verifiers: they are shown to browsers
 * and written to logs.
 *
 * Every error reaches the app through `next(err)` ({@link passError}); what renders it is decided by the router
 * (routes/error-page.ts) and the app's own error handlers, never by looking inside the app.
 */
import type { NextFunction, Request } from 'express';
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
  | 'profile_invalid'
  | 'session_store_unavailable'
  | 'logout_token_invalid'
  | 'logout_refused'
  | 'logout_state_invalid'
  | 'revocation_failed'
  | 'token_exchange_failed'
  | 'tenant_not_allowed'
  | 'provider_unknown'
  | 'provider_unavailable';

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

  /**
   * Headers the response must carry, also honoured by Express' own final handler when the app has no error handler:
   * never cached, and `Retry-After` on a 503 so clients come back instead of hammering.
   */
  get headers(): Record<string, string> {
    return this.status === 503 ? { 'Cache-Control': 'no-store', 'Retry-After': '5' } : { 'Cache-Control': 'no-store' };
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

/**
 * An OAuth 2.0 login (scope without `openid`) could not learn who the user is: the profile endpoint (userProfile)
 * answered with an error, something that is not a JSON object, or no usable subject; or a userProfile function
 * threw or returned no `sub`. 502: the app is fine, the IdP's answer is not. Nothing is stored.
 * @public
 */
export class ProfileError extends OAuthLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('profile_invalid', 502, message, options);
  }
}

/** The token endpoint refused the request (RFC 6749 §5.2), e.g. `invalid_grant`. @public */
export class TokenEndpointError extends OAuthLoginError {
  /** The OAuth error code the token endpoint sent. */
  readonly idpError: string;
  constructor(idpError: string, message: string, options?: { cause?: unknown }) {
    super('token_endpoint_error', 400, message, options);
    this.idpError = idpError;
  }
}

/**
 * The IdP refused a token exchange (RFC 8693 §2.2.2), e.g. `invalid_target` for an audience the client may not ask
 * for: 502, the app's call to its downstream API cannot be made on the user's behalf.
 * @public
 */
export class TokenExchangeError extends OAuthLoginError {
  /** The OAuth error code the token endpoint sent. */
  readonly idpError: string;
  constructor(idpError: string, message: string, options?: { cause?: unknown }) {
    super('token_exchange_failed', 502, message, options);
    this.idpError = idpError;
  }
}

/**
 * The identity provider could not be reached, was too slow, or answered with something unusable. Transient by
 * nature: the 502 (`idp_unavailable`, `idp_bad_response`), 503 and 504 (`idp_timeout`) answers all carry
 * `Retry-After`, and a refresh that fails this way keeps the session (README "Refresh").
 * @public
 */
export class IdpUnavailableError extends OAuthLoginError {
  override get headers(): Record<string, string> {
    return this.code === 'idp_unsupported' ? super.headers : { 'Cache-Control': 'no-store', 'Retry-After': '5' };
  }
}

/** The request needs a logged-in user and has none. @public */
export class UnauthenticatedError extends OAuthLoginError {
  constructor(message = 'Authentication required: log in and try again.') {
    super('unauthenticated', 401, message);
  }
}

/**
 * The user is logged in but does not satisfy the route's rules (`forbidden`), came back from a step-up login
 * without the required authentication level (`step_up_failed`), or the app's afterCallback hook refused the login
 * (`login_rejected`), or the user's tenant is not in `allowedTenants` (`tenant_not_allowed`). Always 403: logging in
 * again would not help, so it never redirects to the IdP.
 * @public
 */
export class ForbiddenError extends OAuthLoginError {
  constructor(
    message = 'You are logged in but not allowed to access this resource.',
    code: 'forbidden' | 'step_up_failed' | 'login_rejected' | 'tenant_not_allowed' = 'forbidden',
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

/**
 * A request to the logout route that the middleware refused (README "Logout"):
 * - `logout_refused` (403): a POST that did not come from the app's own pages (checked with `Origin`, else
 *   `Sec-Fetch-Site`, else `Referer`) and carried no valid logout token: logout CSRF. Nothing was ended.
 * - `logout_state_invalid` (400): the browser came back from the IdP's end-session endpoint with a `state` that
 *   matches no logout started in this browser (replayed, expired, or forged). Nothing was changed.
 * @public
 */
export class LogoutError extends OAuthLoginError {
  constructor(code: 'logout_refused' | 'logout_state_invalid') {
    super(
      code,
      code === 'logout_refused' ? 403 : 400,
      code === 'logout_refused'
        ? 'This sign-out request did not come from this app, so it was ignored and you are still signed in. ' +
            "To sign out, use the app's own Log out button."
        : 'This sign-out response does not match a sign-out started in this browser (it was already used, took too ' +
            'long, or cookies were blocked). Nothing was changed: if you are still signed in and want to sign out, use Log out again.',
    );
  }
}

/**
 * Revoking a token at the IdP's revocation endpoint (RFC 7009) failed or timed out. Never an HTTP answer: the
 * logout it belongs to still happens; the app hears about it through the `error` event. The token stays valid at
 * the IdP until it expires.
 * @public
 */
export class RevocationError extends OAuthLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('revocation_failed', 502, message, options);
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

/**
 * `resolveProvider` found no provider for this request (`provider_unknown`, 404: e.g. an unknown tenant), or it
 * threw (`provider_unavailable`, 503: e.g. its database is down; the cause is kept for logs, never shown).
 * @public
 */
export class ProviderResolutionError extends OAuthLoginError {
  constructor(code: 'provider_unknown' | 'provider_unavailable', options?: { cause?: unknown }) {
    super(
      code,
      code === 'provider_unknown' ? 404 : 503,
      code === 'provider_unknown'
        ? 'No sign-in is configured for this address or organization. Check the link you followed.'
        : 'Sign-in is unavailable right now: its settings could not be loaded. Please try again shortly.',
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

/**
 * Reports one of the middleware's errors (the `error` event) and hands it to the next error handler: the router's
 * own for its routes, else the app's. The one way lib/ fails a request.
 * @private
 */
export function passError(req: Request, next: NextFunction, err: unknown): void {
  if (err instanceof OAuthLoginError) emitError(req, err);
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
 * The middleware's error for `err`, when it is one: ours as is, a session store failure as a 503
 * `session_store_unavailable` (fail closed). Anything else (an app bug) is not ours to render.
 * @private
 */
export function asOAuthError(req: Request, err: unknown): OAuthLoginError | undefined {
  if (err instanceof OAuthLoginError) return err;
  return isStoreFailure(req, err) ? new SessionStoreError({ cause: err }) : undefined;
}
