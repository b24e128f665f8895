/**
 * Typed accessors for everything the middleware keeps in `req.session` (express-session): the pending logins,
 * keyed by `state`, and the logged-in user with their tokens. Nothing else in lib/ touches `req.session.oauth`.
 *
 * All of it stays on the server; the browser only ever holds the opaque session id. Saving, regenerating and
 * destroying live in persistence.ts, lifetimes in lifetime.ts.
 */
import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { nowSeconds } from '../clock.js';
import { SessionStoreError, SetupError } from '../errors.js';
import type { StoredDpopKey, StoredExchangedToken, StoredTokens } from '../types.js';

/** One login in progress, started by GET /login and finished (once) by the callback. @private */
export interface PendingLogin {
  /** OpenID Connect only: a plain OAuth 2.0 login sends no nonce. */
  nonce?: string;
  codeVerifier: string;
  returnTo: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch, for the login duration metric; set only when OpenTelemetry is installed. */
  startedAt?: number;
  /** Step-up: the `acr` the returning ID token must carry. */
  acr?: string;
  /** Step-up: `max_age` sent; openid-client checks `auth_time` against it. */
  maxAge?: number;
  /** A `prompt=none` attempt: interaction errors return anonymously instead of showing an error. */
  silent?: boolean;
  /** The issuer the request went to: the callback refuses a response meant for another IdP (mix-up defense). */
  issuer?: string;
  /** The `name` of the provider the login was sent to: with resolveProvider, how the callback finds it again. */
  provider?: string;
  /** dpop: true — the login's DPoP key pair, bound to the code at PAR or by dpop_jkt (RFC 9449 §10). */
  dpop?: StoredDpopKey;
}

/** The logged-in user as stored in the session. @private */
export interface StoredUser {
  sub: string;
  claims: Record<string, unknown>;
  tokens: StoredTokens;
  /** Seconds since the epoch: when the login completed (absolute lifetime). */
  loginAt: number;
  /** Seconds since the epoch: last time we recorded activity (idle lifetime), at most once a minute. */
  seenAt: number;
  /** The IdP session id (ID token `sid`), kept for back-channel logout even if afterCallback reshapes claims. */
  sid?: string;
  /** ID token `acr` and `auth_time`, kept for step-up rules (requireAuth acr / maxAge). */
  acr?: string;
  authTime?: number;
  /** The `name` of the provider the user logged in with (several providers). */
  provider?: string;
  /** A multi-tenant issuer: the tenant (`tid`) whose issuer signed the ID token; refreshes must stay with it. */
  tenant?: string;
  /** dpop: true — the key pair the tokens are bound to (RFC 9449). */
  dpop?: StoredDpopKey;
  /** The per-session logout token (logout-state.ts): proves a logout request came from the app's own pages. */
  logoutToken?: string;
  /** Tokens from exchangeToken() (RFC 8693), by request (session/exchanged-tokens.ts). */
  exchanged?: Record<string, StoredExchangedToken>;
}

/** An RP-initiated logout sent to the IdP, waiting for the browser to come back with its `state` (logout-state.ts). @private */
export interface PendingLogout {
  state: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** The `name` of the provider the user logged out of (several providers). */
  provider?: string;
}

/** What the middleware keeps under `req.session.oauth`. @private */
export interface OAuthSessionState {
  pending?: Record<string, PendingLogin>;
  user?: StoredUser;
  /** attemptSilentLogin() already tried `prompt=none` in this session (or the user logged out): never again. */
  silentTried?: boolean;
  /** After logout: the end-session request's `state`, checked when the IdP sends the browser back. */
  logout?: PendingLogout;
}

declare module 'express-session' {
  interface SessionData {
    oauth?: OAuthSessionState;
  }
}

/** The request's express-session session, typed with what the middleware keeps. @private */
export type ReqSession = Session & Partial<SessionData>;

/**
 * The request's session, or a SetupError that says how to fix the mounting order.
 * @private
 */
export function sessionOf(req: Request): ReqSession {
  const session = (req as { session?: ReqSession }).session;
  if (!session && (req as { sessionStore?: unknown }).sessionStore) {
    // express-session is mounted but skipped this request: its store reported itself disconnected. Fail closed.
    throw new SessionStoreError();
  }
  if (!session || typeof session.regenerate !== 'function') {
    throw new SetupError(
      'session_missing',
      500,
      'express-oauth-login needs a session: mount express-session (or oauthSession()) with app.use() before oauthLogin() and requireAuth().',
    );
  }
  return session;
}

/** Stores a pending login under its state; drops expired ones and keeps only the `max` newest. @private */
export function addPendingLogin(
  session: ReqSession,
  state: string,
  login: PendingLogin,
  limits: { max: number; ttl: number },
): void {
  const oauth = (session.oauth ??= {});
  const now = nowSeconds();
  // Entries keep insertion order, oldest first; createdAt has one-second resolution, so it cannot break ties.
  const live = Object.entries(oauth.pending ?? {}).filter(([, p]) => now - p.createdAt < limits.ttl);
  const keep = limits.max - 1;
  oauth.pending = Object.fromEntries([...(keep > 0 ? live.slice(-keep) : []), [state, login]]);
}

/**
 * Removes the pending login for `state` and returns it, whatever happens next: a state is good for one try only.
 * @private
 */
export function takePendingLogin(
  session: ReqSession,
  state: string,
  ttl: number,
): { login: PendingLogin; expired: boolean } | undefined {
  const pending = session.oauth?.pending;
  if (!pending || !Object.hasOwn(pending, state)) return undefined;
  const login = pending[state] as PendingLogin;
  delete pending[state];
  if (Object.keys(pending).length === 0) delete session.oauth!.pending;
  return { login, expired: nowSeconds() - login.createdAt >= ttl };
}

/** The pending login for `state`, left in place (the callback takes it). @private */
export function peekPendingLogin(session: ReqSession, state: string): PendingLogin | undefined {
  const pending = session.oauth?.pending;
  return pending && Object.hasOwn(pending, state) ? pending[state] : undefined;
}

/** The logged-in user, if any. @private */
export function storedUser(session: ReqSession): StoredUser | undefined {
  return session.oauth?.user;
}

/** Replaces the stored tokens after a refresh. @private */
export function storeTokens(session: ReqSession, tokens: StoredTokens): void {
  if (session.oauth?.user) session.oauth.user.tokens = tokens;
}

