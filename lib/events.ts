/**
 * Events for the app's logging and audit trail: login, logout, refresh, back-channel logout and errors. Payloads
 * are built here from a fixed list of fields, never from token responses, so no access, refresh or ID token, code,
 * secret or session id can reach a listener. The fields are a versioned schema (README "Events and the audit
 * trail"): every payload carries `schemaVersion`; a field is only ever added within a version, a change of meaning
 * or a removal is a new version. `auditLogger(logger)` writes them as JSON lines through a pino-compatible logger.
 *
 * Listeners run synchronously and must not break a login: a listener that throws (or rejects) is reported with
 * process.emitWarning and otherwise ignored.
 */
import type { Request } from 'express';

/** The version of the event schema every payload carries as `schemaVersion`. @public */
export const EVENT_SCHEMA_VERSION = 1;

/** Fields every event has. @public */
export interface EventBase {
  /** The schema version of this payload: {@link EVENT_SCHEMA_VERSION}. */
  schemaVersion: typeof EVENT_SCHEMA_VERSION;
}

/** `login`: a user completed a login (a session now holds them). @public */
export interface LoginEvent extends EventBase {
  type: 'login';
  sub: string;
  /** IdP session id (ID token `sid`), when the IdP sent one. */
  sid?: string;
  acr?: string;
  /** True when the login was a step-up requested by requireAuth({ acr, maxAge }). */
  stepUp: boolean;
  /** True when it was an attemptSilentLogin() (`prompt=none`) login. */
  silent: boolean;
}
/** `logout`: the user logged out through the logout route. @public */
export interface LogoutEvent extends EventBase {
  type: 'logout';
  /** Absent when the session had no user. */
  sub?: string;
  /** True when the browser is sent on to the IdP's end_session_endpoint. */
  idpLogout: boolean;
}
/** `refresh`: requireAuth or getAccessToken refreshed (or failed to refresh, ending the session) an access token. @public */
export interface RefreshEvent extends EventBase {
  type: 'refresh';
  sub: string;
  outcome: 'refreshed' | 'session_ended';
}
/** `backchannelLogout`: the IdP ended sessions through the back-channel logout route. @public */
export interface BackchannelLogoutEvent extends EventBase {
  type: 'backchannelLogout';
  sub?: string;
  sid?: string;
  /** How many sessions of this app were ended. */
  sessions: number;
}
/**
 * `sessionsEnded`: sessions were ended through the session control API (README "Session control"): by the user
 * (`endSession()`, `endAllSessions()`) or by admin code (`endSessions()`).
 * @public
 */
export interface SessionsEndedEvent extends EventBase {
  type: 'sessionsEnded';
  sub?: string;
  sid?: string;
  /** `user`: the user's own request; `admin`: endSessions() without a request. */
  by: 'user' | 'admin';
  /** How many sessions were ended. */
  sessions: number;
}
/** `error`: the middleware answered with one of its errors (see README "Error codes"). @public */
export interface ErrorEvent extends EventBase {
  type: 'error';
  code: string;
  status: number;
  message: string;
  /** The request path (no query string: it may hold a code). */
  path: string;
}

/** Every event, by name. @public */
export interface OAuthEventMap {
  login: LoginEvent;
  logout: LogoutEvent;
  refresh: RefreshEvent;
  backchannelLogout: BackchannelLogoutEvent;
  sessionsEnded: SessionsEndedEvent;
  error: ErrorEvent;
}

/**
 * The `events` option: callbacks by event name, or anything with an `emit(name, payload)` method such as a
 * Node.js EventEmitter.
 * @public
 */
export type OAuthEvents =
  | { [K in keyof OAuthEventMap]?: (event: OAuthEventMap[K]) => void | Promise<void> }
  | { emit(name: string, event: unknown): unknown };

const EVENTS = Symbol.for('express-oauth-login.events');

/** Makes `events` reachable from the request (also from errors.ts, which must not import the context). @private */
export function attachEvents(req: Request, events: OAuthEvents | undefined): void {
  if (events) (req as unknown as Record<symbol, OAuthEvents>)[EVENTS] = events;
}

let warned = false;
function listenerFailed(err: unknown): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`an express-oauth-login event listener failed (${err instanceof Error ? err.name : 'error'}); ignored`, {
    code: 'EXPRESS_OAUTH_LOGIN_LISTENER',
  });
}

/** Delivers an event to the app's listeners, if any. Never throws. @private */
export function emit<K extends keyof OAuthEventMap>(req: Request, name: K, detail: Omit<OAuthEventMap[K], 'type' | 'schemaVersion'>): void {
  emitTo((req as unknown as Record<symbol, OAuthEvents | undefined>)[EVENTS], name, detail);
}

/** Delivers an event to `events` (the config's listeners), for code that runs without a request. Never throws. @private */
export function emitTo<K extends keyof OAuthEventMap>(events: OAuthEvents | undefined, name: K, detail: Omit<OAuthEventMap[K], 'type' | 'schemaVersion'>): void {
  if (!events) return;
  const event = { type: name, schemaVersion: EVENT_SCHEMA_VERSION, ...detail } as OAuthEventMap[K];
  // An EventEmitter throws on an 'error' event nobody listens to: that is not the app's wish here.
  const emitter = events as { listenerCount?: (name: string) => number };
  if (typeof emitter.listenerCount === 'function' && emitter.listenerCount(name) === 0) return;
  try {
    const result =
      'emit' in events && typeof events.emit === 'function'
        ? events.emit(name, event)
        : (events as Record<string, ((e: unknown) => unknown) | undefined>)[name]?.(event);
    if (result instanceof Promise) result.catch(listenerFailed);
  } catch (err) {
    listenerFailed(err);
  }
}

/** Reports one of the middleware's errors; the path only, since a callback's query string holds the code. @private */
export function emitError(req: Request, err: { code: string; status: number; message: string }): void {
  emit(req, 'error', { code: err.code, status: err.status, message: err.message, path: req.originalUrl.split('?')[0] ?? '' });
}

/**
 * A pino-compatible logger: `info(obj, msg)`, and `warn` / `error` when it has them (pino, bunyan and most
 * structured loggers do; `console` does not write JSON). @public
 */
export interface AuditLogTarget {
  info(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

/** Listeners for every event, as {@link auditLogger} returns them. @public */
export type AuditListeners = { [K in keyof OAuthEventMap]: (event: OAuthEventMap[K]) => void };

/**
 * The audit trail: listeners for the `events` option that write every event as one structured JSON line through
 * `logger` (`logger.info(obj, msg)`, the pino signature): the payload's fields at the top level, plus
 * `audit: 'express-oauth-login'` to find them. `error` events are written with `warn` (4xx) or `error` (5xx).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * app.use(oauthLogin({ ...config, events: auditLogger(pino()) }));
 * // {"level":30,"time":...,"audit":"express-oauth-login","type":"login","schemaVersion":1,"sub":"alice",...,"msg":"express-oauth-login login"}
 * ```
 * @public
 */
export function auditLogger(logger: AuditLogTarget): AuditListeners {
  const write = (level: 'info' | 'warn' | 'error', event: OAuthEventMap[keyof OAuthEventMap]): void => {
    // Called on the logger itself: pino's methods read `this`.
    (logger[level] ?? logger.info).call(logger, { audit: 'express-oauth-login', ...event }, `express-oauth-login ${event.type}`);
  };
  return {
    login: (event) => write('info', event),
    logout: (event) => write('info', event),
    refresh: (event) => write('info', event),
    backchannelLogout: (event) => write('info', event),
    sessionsEnded: (event) => write('info', event),
    error: (event) => write(event.status >= 500 ? 'error' : 'warn', event),
  };
}
