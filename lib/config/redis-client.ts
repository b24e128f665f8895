/**
 * What counts as a Redis client for the `redis` options of oauthLogin() and oauthSession(): an ioredis client.
 * ioredis is an optional peer dependency, so only its types are imported here; an app on MemoryStore never loads it.
 */
import type { Cluster, Redis } from 'ioredis';

/** An ioredis client: a single node / Sentinel-managed `Redis`, or a `Cluster`. @public */
export type RedisClient = Redis | Cluster;

/**
 * True for an ioredis `Redis` or `Cluster` instance. Duck-typed (ioredis is optional, and an app may load its own
 * copy): `defineCommand` and a string `status` are ioredis-specific; node-redis clients have neither.
 * @private
 */
export function isRedisClient(value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.defineCommand === 'function' &&
    typeof c.status === 'string' &&
    typeof c.get === 'function' &&
    typeof c.set === 'function' &&
    typeof c.eval === 'function'
  );
}
