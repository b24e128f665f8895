/**
 * Typed accessors for everything the middleware keeps in `req.session` (express-session): the pending logins,
 * keyed by `state`, and the logged-in user with their tokens. Nothing else in lib/ touches `req.session.oauth`.
 *
 * All of it stays on the server; the browser only ever holds the opaque session id.
 */
import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import type { ResolvedConfig } from './config.js';
import type { StoredDpopKey } from './dpop.js';
import { SessionStoreError, SetupError } from './errors.js';

/** One login in progress, started by GET /login and finished (once) by the callback. @private */
export interface PendingLogin {
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Step-up: the `acr` the returning ID token must carry. */
  acr?: string;
  /** Step-up: `max_age` sent; openid-client checks `auth_time` against it. */
  maxAge?: number;
  /** A `prompt=none` attempt: interaction errors return anonymously instead of showing an error. */
  silent?: boolean;
  /** The issuer the request went to: the callback refuses a response meant for another IdP (mix-up defense). */
  issuer?: string;
  /** dpop: true — the login's DPoP key pair, bound to the code at PAR or by dpop_jkt (RFC 9449 §10). */
  dpop?: StoredDpopKey;
}

/** Tokens as stored in the session. @private */
export interface StoredTokens {
  accessToken: string;
  tokenType: string;
  /** Seconds since the epoch. */
  expiresAt?: number;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
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
  /** dpop: true — the key pair the tokens are bound to (RFC 9449). */
  dpop?: StoredDpopKey;
}

/** What the middleware keeps under `req.session.oauth`. @private */
export interface OAuthSessionState {
  pending?: Record<string, PendingLogin>;
  user?: StoredUser;
  /** attemptSilentLogin() already tried `prompt=none` in this session (or the user logged out): never again. */
  silentTried?: boolean;
}

declare module 'express-session' {
  interface SessionData {
    oauth?: OAuthSessionState;
  }
}

type ReqSession = Session & Partial<SessionData>;

/** Seconds since the epoch. @private */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

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

let cookieWarned = false;

/**
 * Warns once per process about session cookie settings that break logins or weaken them: SameSite=Strict drops
 * the cookie on the IdP's cross-site redirect back (every callback then fails with state_unknown), a cookie
 * readable by scripts, or one sent over plain http by an https app.
 * @private
 */
export function warnAboutCookie(session: ReqSession, secureApp: boolean): void {
  if (cookieWarned) return;
  const cookie = session.cookie;
  const problems: string[] = [];
  const sameSite = typeof cookie.sameSite === 'string' ? cookie.sameSite.toLowerCase() : cookie.sameSite;
  if (sameSite === 'strict' || sameSite === true) problems.push('SameSite=Strict (use "lax": the IdP redirects back cross-site)');
  if (cookie.httpOnly === false) problems.push('not HttpOnly');
  if (secureApp && !cookie.secure) problems.push('not Secure although baseURL is https');
  if (problems.length === 0) return;
  cookieWarned = true;
  process.emitWarning(`express-oauth-login: the session cookie is ${problems.join(', ')}. See README "Troubleshooting".`, {
    code: 'EXPRESS_OAUTH_LOGIN_COOKIE',
    type: 'SecurityWarning',
  });
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

/**
 * Seconds this session may still live, the one lifetime policy: a logged-in user's session ends at the earlier of
 * `loginAt + absoluteTimeout` and `seenAt + idleTimeout`; a session holding only pending logins ends when the
 * newest of them expires. `undefined` when the middleware keeps nothing in it. Enforced by requireAuth() and used
 * as the Redis TTL, so an ended session also leaves the store.
 * @private
 */
export function sessionLifetime(
  data: Partial<SessionData>,
  config: Pick<ResolvedConfig, 'idleTimeout' | 'absoluteTimeout' | 'loginTimeout'>,
  now = nowSeconds(),
): number | undefined {
  const user = data.oauth?.user;
  if (user) return Math.min(user.loginAt + config.absoluteTimeout, user.seenAt + config.idleTimeout) - now;
  const pending = Object.values(data.oauth?.pending ?? {});
  if (pending.length) return Math.max(...pending.map((p) => p.createdAt)) + config.loginTimeout - now;
  return undefined;
}

/** The logged-in user, if any. @private */
export function storedUser(session: ReqSession): StoredUser | undefined {
  return session.oauth?.user;
}

/** Replaces the stored tokens after a refresh. @private */
export function storeTokens(session: ReqSession, tokens: StoredTokens): void {
  if (session.oauth?.user) session.oauth.user.tokens = tokens;
}

function storeFailure(err: unknown): SessionStoreError {
  return err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err });
}

/**
 * Replaces the session with a new, empty one under a new id; the old id is destroyed in the store. @private
 */
export async function regenerateSession(req: Request): Promise<ReqSession> {
  await new Promise<void>((resolve, reject) => {
    sessionOf(req).regenerate((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
  return sessionOf(req);
}

/**
 * Issues a new session id (defeats session fixation) and stores the user in it. Other logins still pending in
 * this browser (other tabs) move to the new session so they can finish too.
 * @private
 */
export async function regenerateWithUser(
  req: Request,
  user: StoredUser,
  beforeSave?: (sessionId: string) => Promise<void>,
): Promise<void> {
  const pending = sessionOf(req).oauth?.pending;
  const session = await regenerateSession(req);
  // E.g. index the new id for back-channel logout: if that fails, the user is never stored (no half-made login).
  if (beforeSave) await beforeSave(session.id);
  session.oauth = pending && Object.keys(pending).length ? { pending, user } : { user };
  await saveSession(req);
}

/** What express-session compares to decide whether a session changed: everything but the cookie. */
function serialize(session: ReqSession): string {
  return JSON.stringify(session, function (this: unknown, key, value: unknown) {
    return this === session && key === 'cookie' ? undefined : value;
  });
}

/** The session as last written by a save we made, per session object. */
const lastSaved = new WeakMap<object, string>();

/**
 * express-session tracks changes only on the session it loaded: one created by `regenerate()` is written again
 * when the response ends, although the callback has just saved it (a second SET of the whole session per login).
 * This gives such a session a `save` that skips a write when nothing changed since the last one. Sessions that
 * express-session loaded or created itself carry its own change-tracking `save` and are left alone.
 */
function skipUnchangedSaves(session: ReqSession): void {
  if (Object.hasOwn(session, 'save')) return;
  const save = (Object.getPrototypeOf(session) as ReqSession).save;
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value(this: ReqSession, callback?: (err?: unknown) => void) {
      const snapshot = serialize(this);
      if (lastSaved.get(this) === snapshot) {
        if (callback) process.nextTick(callback);
        return this;
      }
      return save.call(this, (err?: unknown) => {
        if (!err) lastSaved.set(this, snapshot);
        callback?.(err);
      });
    },
  });
}

/** Saves the session now, so a store failure becomes an error response rather than a lost login. @private */
export function saveSession(req: Request): Promise<void> {
  const session = sessionOf(req);
  skipUnchangedSaves(session);
  return new Promise((resolve, reject) => {
    session.save((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
}

/** Ends the session in the store. @private */
export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    sessionOf(req).destroy((err: unknown) => (err ? reject(storeFailure(err)) : resolve()));
  });
}

/** Session ids with a pending-login update under way in this process, and the promise that ends it. */
const updating = new Map<string, Promise<void>>();
/** Per session id, the sequence number of the last serialised update in this process (kept a few minutes). */
const lastUpdate = new Map<string, number>();
let sequence = 0;
const LOADED = Symbol('express-oauth-login.loaded');
/** Longer than any request can take between loading its session and updating it (discovery, PAR: httpTimeout). */
const REMEMBER_UPDATES_MS = 5 * 60 * 1000;

/**
 * Notes, as the request enters the middleware (right after express-session loaded its session), how far the
 * serialised updates had got, so {@link serializedUpdate} knows whether the copy this request holds is stale.
 * @private
 */
export function noteSessionLoaded(req: Request): void {
  const r = req as unknown as Record<symbol, number | undefined>;
  r[LOADED] ??= sequence;
}

/**
 * Runs `update` (which changes the session and saves it) after any other update of the same session in this
 * process, first reloading the session when another update was saved since this request loaded it. Two tabs
 * restored at once both hit /login with the same session: without this, each would save its own copy and the last
 * write would drop the other's pending login. When nothing else touched the session it costs no store call.
 * (Across instances the same race remains: README "Troubleshooting".)
 * @private
 */
export async function serializedUpdate(req: Request, update: () => Promise<void>): Promise<void> {
  const id = req.sessionID;
  const before = updating.get(id);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const chained = (before ?? Promise.resolve()).then(() => mine);
  updating.set(id, chained);
  try {
    await before;
    const loadedAt = (req as unknown as Record<symbol, number | undefined>)[LOADED] ?? -1;
    if ((lastUpdate.get(id) ?? -Infinity) >= loadedAt) {
      // A session that is gone from the store (a login finished and regenerated it) keeps this request's copy.
      await new Promise<void>((resolve) => sessionOf(req).reload(() => resolve()));
    }
    await update();
    const seq = sequence++;
    lastUpdate.set(id, seq);
    setTimeout(() => {
      if (lastUpdate.get(id) === seq) lastUpdate.delete(id);
    }, REMEMBER_UPDATES_MS).unref();
  } finally {
    done();
    if (updating.get(id) === chained) updating.delete(id);
  }
}
