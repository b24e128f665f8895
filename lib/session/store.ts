/**
 * oauthSession(): express-session configured the way this middleware needs it, on Redis (connect-redis 8.1 over
 * ioredis) when given one, so any number of app instances share logins.
 *
 * - The cookie holds only the signed, opaque session id: HttpOnly, SameSite=Lax, Secure on https, a distinct name.
 * - A session is written only when it changed (resave: false) and never touched per request (disableTouch), so an
 *   authenticated request that changes nothing costs exactly one Redis GET.
 * - The Redis TTL follows the login's idle and absolute lifetimes (see sessionLifetime in session-state.ts).
 * - Every store call has a deadline; a failing or slow Redis answers 503 session_store_unavailable, never 500, and
 *   the app recovers by itself when Redis is back (ioredis reconnects).
 */
import { createRequire } from 'node:module';
import type { Request, RequestHandler } from 'express';
import session, { type SessionData, type Store } from 'express-session';
import { RedisStore } from 'connect-redis';
import type { RedisOptions } from 'ioredis';
import { boundConfig } from '../config/request.js';
import { type OAuthSessionOptions, type ResolvedSessionOptions, resolveSessionOptions } from '../config/session-options.js';
import { SessionStoreError, passError } from '../errors.js';
import { type StoreOperation, storeTimer, telemetryEnabled } from '../telemetry.js';
import { sessionLifetime } from './lifetime.js';
import { type RedisClient, redisCall, registerStoreClient } from './redis.js';

export type { OAuthSessionOptions } from '../config/session-options.js';

/**
 * Options for the ioredis client that `oauthSession()` creates from a URL. Commands queue while (re)connecting, but
 * each one fails after `commandTimeout` and after one reconnection attempt, so a request never waits on a dead
 * Redis; reconnection itself never stops, so the app recovers without a restart. Also a good base for clients you
 * create yourself.
 * @public
 */
export function redisClientOptions(timeout = 2000): RedisOptions {
  return {
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

/** Creates an ioredis client without a static import: ioredis is an optional peer dependency. */
function createClient(url: string, timeout: number): RedisClient {
  const require = createRequire(import.meta.url);
  let ioredis: { Redis: new (url: string, options: RedisOptions) => RedisClient };
  try {
    ioredis = require('ioredis') as typeof ioredis;
  } catch (err) {
    throw new Error('oauthSession({ redis }) needs the ioredis package: npm install ioredis', { cause: err });
  }
  const client = new ioredis.Redis(url, redisClientOptions(timeout));
  // Without a listener ioredis logs every failed reconnection; the 503s tell the story per request.
  client.on('error', () => undefined);
  return client;
}

type Callback<T> = (err: unknown, data?: T) => void;

/**
 * connect-redis with a deadline on every call it makes for a request, whatever options the given client has
 * (a client without commandTimeout would otherwise queue commands forever while Redis is down).
 */
class BoundedRedisStore extends RedisStore {
  readonly #timeout: number;
  constructor(options: ConstructorParameters<typeof RedisStore>[0], timeout: number) {
    super(options);
    this.#timeout = timeout;
  }
  #bounded<T>(operation: StoreOperation, call: () => Promise<T>, cb?: Callback<T>): Promise<unknown> {
    // Timed here, the one place every request's store call passes (telemetry.ts; nothing without OpenTelemetry).
    const done = storeTimer('redis', operation);
    return redisCall(this.#timeout, call).then(
      (data) => {
        done?.();
        return cb ? cb(null, data) : data;
      },
      (err: unknown) => {
        done?.(err);
        if (cb) return cb(err);
        throw err;
      },
    );
  }
  override get(sid: string, cb?: Callback<SessionData | null>): Promise<unknown> {
    return this.#bounded('get', () => super.get(sid) as Promise<SessionData | null>, cb);
  }
  override set(sid: string, sess: SessionData, cb?: Callback<unknown>): Promise<unknown> {
    return this.#bounded('set', () => super.set(sid, sess), cb);
  }
  override destroy(sid: string, cb?: Callback<unknown>): Promise<unknown> {
    return this.#bounded('destroy', () => super.destroy(sid), cb);
  }
}

/** A callback that reports to `done` first, when there is a `done` (telemetry on). */
function timed<T>(done: ((err?: unknown) => void) | undefined, cb: Callback<T> | undefined): Callback<T> | undefined {
  return done
    ? (err, data) => {
        done(err);
        cb?.(err, data);
      }
    : cb;
}

/** The MemoryStore with its operations timed like the Redis store's; used only when OpenTelemetry is installed. */
class TimedMemoryStore extends session.MemoryStore {
  override get(sid: string, cb: Callback<SessionData | null | undefined>): void {
    super.get(sid, timed(storeTimer('memory', 'get'), cb)!);
  }
  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    super.set(sid, sess, timed(storeTimer('memory', 'set'), cb));
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    super.destroy(sid, timed(storeTimer('memory', 'destroy'), cb));
  }
}

/**
 * The Redis TTL of a session, in seconds: its remaining login lifetime when the request went through
 * `oauthLogin()` (express-session hands the store its Session object, which carries the request), else `fallback`.
 */
function ttlFor(fallback: number): (sess: SessionData) => number {
  return (sess) => {
    const req = (sess as unknown as { req?: Request }).req;
    const config = req && boundConfig(req);
    return (config && sessionLifetime(sess, config)) ?? fallback;
  };
}

function buildStore(o: ResolvedSessionOptions): { store?: Store; close: () => Promise<void> } {
  if (o.redis === undefined) {
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'oauthSession() without redis keeps sessions in process memory (MemoryStore): they are lost on restart, ' +
          'not shared between instances, and never pruned. Pass redis: process.env.REDIS_URL in production.',
        { code: 'EXPRESS_OAUTH_LOGIN_MEMORYSTORE' },
      );
    }
    // Like disableTouch for Redis: idle time is tracked in the session itself (seenAt, written at most once a
    // minute), so express-session's per-request touch, which re-serialises the whole session, buys nothing.
    const memory = telemetryEnabled() ? new TimedMemoryStore() : new session.MemoryStore();
    Object.defineProperty(memory, 'touch', { value: undefined });
    return { store: memory, close: async () => undefined };
  }
  const client = typeof o.redis === 'string' ? createClient(o.redis, o.storeTimeout) : o.redis;
  const store = new BoundedRedisStore(
    // disableTouch: express-session would otherwise send EXPIRE on every request that changed nothing.
    { client, prefix: o.prefix, ttl: ttlFor(o.ttl), disableTouch: true },
    o.storeTimeout,
  );
  registerStoreClient(store, { client, timeout: o.storeTimeout });
  const created = typeof o.redis === 'string';
  return {
    store,
    close: async () => {
      if (created) await client.quit().catch(() => client.disconnect());
    },
  };
}

/** The middleware `oauthSession()` returns. @public */
export type OAuthSessionMiddleware = RequestHandler & {
  /** Closes the Redis connection oauthSession() opened from a URL (a client you passed stays yours to close). */
  close(): Promise<void>;
};

/**
 * Returns an express-session middleware configured for this middleware: Redis-backed when `redis` is given (an
 * ioredis `Redis`, `Cluster` or Sentinel-managed `Redis`, or a `redis://` URL), MemoryStore otherwise (development
 * only; warns when NODE_ENV=production). Mount it before `oauthLogin()`.
 *
 * Store failures (Redis down or slow) become a 503 `session_store_unavailable`, passed to the app's error handlers
 * with `next(err)` (mount `oauthErrorHandler()` last for the default page).
 *
 * @example
 * ```ts
 * app.set('trust proxy', 1); // behind a TLS-terminating proxy
 * app.use(oauthSession({ secret: process.env.SESSION_SECRET!, redis: process.env.REDIS_URL }));
 * app.use(oauthLogin(config));
 * ```
 * @throws {ConfigError} when the options are invalid.
 * @public
 */
export function oauthSession(options: OAuthSessionOptions): OAuthSessionMiddleware {
  const o = resolveSessionOptions(options);
  const { store, close } = buildStore(o);
  const middleware = session({
    name: o.cookie.name,
    secret: o.secret,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    // unset stays 'keep': with 'destroy', a request whose session failed to load (Redis down) would delete the
    // session when its 503 ends, and the DEL would run once Redis is back, logging the user out.
    ...(store && { store }),
    cookie: {
      httpOnly: true,
      sameSite: o.cookie.sameSite,
      secure: o.secure,
      path: o.cookie.path,
      ...(o.cookie.domain && { domain: o.cookie.domain }),
      ...(o.cookie.maxAge !== undefined && { maxAge: o.cookie.maxAge }),
    },
  });
  const handler: RequestHandler = (req, res, next) => {
    let continued = false;
    middleware(req, res, (err?: unknown) => {
      if (continued) return; // a late save failure after the response went out: nothing left to answer.
      continued = true;
      if (err === undefined || err === null) return next();
      passError(req, next, err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err }));
    });
  };
  return Object.assign(handler, { close });
}
