/**
 * oauthSession(): express-session configured the way this middleware needs it, on Redis (connect-redis 8.1 over
 * ioredis) when given one, so any number of app instances share logins.
 *
 * - The cookie holds only the signed, opaque session id: HttpOnly, SameSite=Lax, Secure on https, a distinct name.
 * - A session is written only when it changed (resave: false) and never touched per request (disableTouch), so an
 *   authenticated request that changes nothing costs exactly one Redis GET.
 * - The store TTL follows the login's idle and absolute lifetimes (sessionLifetime in lifetime.ts).
 * - Writes are versioned and entries sealed (versioned-store.ts, session-key.ts).
 * - Every store call has a deadline; a failing or slow Redis answers 503 session_store_unavailable, never 500, and
 *   the app recovers by itself when Redis is back (ioredis reconnects).
 */
import { createRequire } from 'node:module';
import type { Request, RequestHandler } from 'express';
import session, { type Store } from 'express-session';
import type { RedisOptions } from 'ioredis';
import { boundConfig } from '../config/request.js';
import { type OAuthSessionOptions, type ResolvedSessionOptions, resolveSessionOptions } from '../config/session-options.js';
import { SessionStoreError, passError } from '../errors.js';
import { sessionLifetime } from './lifetime.js';
import { BoundedMemoryStore } from './memory-store.js';
import type { SessionRecord } from './merge.js';
import { type RedisClient, registerStoreClient } from './redis.js';
import { VersionedRedisStore } from './redis-store.js';

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

/**
 * The store TTL of a session, in seconds: its remaining login lifetime when the request went through
 * `oauthLogin()` (a session holding only pending logins: `loginTimeout`), else `fallback`.
 */
function ttlFor(fallback: number): (record: SessionRecord, req: Request | undefined) => number {
  return (record, req) => {
    const config = req && boundConfig(req);
    if (!config) return fallback;
    // Nothing left but the middleware's empty state (a pending login was claimed): as short-lived as a login.
    const empty = Object.keys(record).every((k) => k === 'cookie' || k === 'oauth') && Object.keys(record.oauth ?? {}).length === 0;
    return sessionLifetime(record, config) ?? (empty ? config.loginTimeout : fallback);
  };
}

function buildStore(o: ResolvedSessionOptions): { store?: Store; close: () => Promise<void> } {
  if (o.redis === undefined) {
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'oauthSession() without redis keeps sessions in process memory (a bounded in-process store, not the MemoryStore of express-session): they are lost on restart and not shared ' +
          'between instances (the store is bounded: options `memory`). Pass redis: process.env.REDIS_URL in production.',
        { code: 'EXPRESS_OAUTH_LOGIN_MEMORYSTORE' },
      );
    }
    const memory = new BoundedMemoryStore({ ...o.memory, ttl: ttlFor(o.ttl), maxLifetime: o.ttl, seal: o.seal });
    return { store: memory, close: async () => undefined };
  }
  const client = typeof o.redis === 'string' ? createClient(o.redis, o.storeTimeout) : o.redis;
  const store = new VersionedRedisStore({ client, prefix: o.prefix, ttl: ttlFor(o.ttl), maxLifetime: o.ttl, timeout: o.storeTimeout, seal: o.seal });
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
 * ioredis `Redis`, `Cluster` or Sentinel-managed `Redis`, or a `redis://` URL), a bounded in-process store otherwise
 * (lru-cache, options `memory`; one instance only; warns when NODE_ENV=production). Either way sessions are
 * versioned (compare-and-set, tombstones) and sealed at rest. Mount it before `oauthLogin()`.
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
