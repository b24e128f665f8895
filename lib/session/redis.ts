/**
 * The one place that decides which Redis client the middleware uses for coordination between app instances
 * (cross-instance refresh single flight, and any other shared index), and how long it may wait for Redis.
 *
 * ioredis is an optional peer dependency: this module only imports its types, so an app that uses MemoryStore
 * never loads it.
 */
import type { Request } from 'express';
import { type RedisClient, isRedisClient } from '../config/redis-client.js';
import type { ResolvedConfig } from '../config/schema.js';
import { SessionStoreError } from '../errors.js';

export type { RedisClient } from '../config/redis-client.js';

/** What `oauthSession()` records about the store it built, so `oauthLogin()` can reuse its client. @private */
export interface StoreCoordination {
  client: RedisClient;
  /** Deadline for one Redis call, in milliseconds. */
  timeout: number;
}

/** Deadline for one coordination call when nothing more specific is known (ms). @private */
export const DEFAULT_REDIS_TIMEOUT = 2000;

const registry = new WeakMap<object, StoreCoordination>();

/** Remembers that `store` keeps its sessions through `client` (called by `oauthSession()`). @private */
export function registerStoreClient(store: object, coordination: StoreCoordination): void {
  registry.set(store, coordination);
}

/**
 * The Redis client a request should use for coordination between app instances, or `undefined` when there is none
 * (then coordination stays per process). In order:
 * 1. the `redis` option given to `oauthLogin()`;
 * 2. the client of the session store built by `oauthSession({ redis })`;
 * 3. `req.sessionStore.client` when it is an ioredis client (a store that exposes its raw client). connect-redis 8
 *    wraps its client in an adapter without SET NX, so an app that mounts connect-redis itself should pass
 *    `redis` to `oauthLogin()`.
 *
 * Reused by every feature that needs shared state across instances: call it per request, it costs no Redis call.
 * @private
 */
export function coordinationClient(config: Pick<ResolvedConfig, 'redis'>, req: Request): StoreCoordination | undefined {
  return coordinationForStore(config, (req as { sessionStore?: object }).sessionStore);
}

/** {@link coordinationClient} for a session store known without a request (admin code: session-control.ts). @private */
export function coordinationForStore(config: Pick<ResolvedConfig, 'redis'>, store: object | undefined): StoreCoordination | undefined {
  if (config.redis) return { client: config.redis, timeout: DEFAULT_REDIS_TIMEOUT };
  if (!store) return undefined;
  const known = registry.get(store);
  if (known) return known;
  const raw = (store as { client?: unknown }).client;
  if (isRedisClient(raw)) return { client: raw, timeout: DEFAULT_REDIS_TIMEOUT };
  warnUncoordinatedRedisStore(store);
  return undefined;
}

let uncoordinatedWarned = false;

/**
 * A connect-redis store the app built itself hides its ioredis client behind an adapter without SET NX: sessions
 * are shared, but refresh single flight and the back-channel logout index would silently stay per process. Say so
 * once, with the fix.
 */
function warnUncoordinatedRedisStore(store: object): void {
  if (uncoordinatedWarned || store.constructor?.name !== 'RedisStore') return;
  uncoordinatedWarned = true;
  process.emitWarning(
    'express-oauth-login: the session store is a connect-redis store, but no Redis client was given for coordination: ' +
      'refresh single flight and the back-channel logout index stay per process. Pass your ioredis client as ' +
      'oauthLogin({ redis: client }), or build the session middleware with oauthSession({ redis: client }).',
    { code: 'EXPRESS_OAUTH_LOGIN_REDIS_COORDINATION' },
  );
}

/**
 * A Redis key in the middleware's own namespace, separate from the session keys: `eol:<clientId>:<parts...>`.
 * The client id keeps two apps that share one Redis apart. Wrap the part that must decide the cluster slot in
 * `{...}` (a hash tag) when several keys must live on one node.
 * @private
 */
export function coordinationKey(config: Pick<ResolvedConfig, 'clientId'>, ...parts: string[]): string {
  return ['eol', config.clientId, ...parts].join(':');
}

/**
 * Runs one Redis call with a deadline and turns any failure into a 503 SessionStoreError (fail closed): a request
 * never hangs while ioredis queues commands for a Redis that is down.
 * @private
 */
export async function redisCall<T>(timeout: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeout} ms`)), timeout);
      }),
    ]);
  } catch (err) {
    throw err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err });
  } finally {
    clearTimeout(timer);
  }
}
