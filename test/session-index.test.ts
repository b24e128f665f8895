/**
 * The sid/sub → session id index behind back-channel logout, and its jti replay memory: the in-process and the
 * Redis implementation (a real redis-server) behave alike; entries expire; Redis keys carry a TTL; a Redis that
 * does not answer fails closed with SessionStoreError within the deadline.
 */
import { Redis } from 'ioredis';
import { SessionStoreError } from '../lib/index.js';
import { type SessionIndex, createMemorySessionIndex, createRedisSessionIndex } from '../lib/session/sid-index.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  client.disconnect();
  await redis.close();
});

const PREFIX = 'eol:test-client:bcl:';
const implementations: Array<[string, () => SessionIndex]> = [
  ['in process', () => createMemorySessionIndex()],
  ['Redis', () => createRedisSessionIndex(client, `${PREFIX}${Math.random().toString(36).slice(2)}:`)],
];

describe.each(implementations)('%s index', (_name, make) => {
  test('records sessions under every key and forgets one session without touching the others', async () => {
    const index = make();
    await index.add(['sub:alice', 'sid:s1'], 'session-a1', 60);
    await index.add(['sub:alice', 'sid:s2'], 'session-a2', 60);
    await index.add(['sub:bob', 'sid:s3'], 'session-b1', 60);
    expect((await index.members('sub:alice')).sort()).toEqual(['session-a1', 'session-a2']);
    expect(await index.members('sid:s2')).toEqual(['session-a2']);
    expect(await index.members('sid:unknown')).toEqual([]);
    await index.remove(['sub:alice', 'sid:s1'], 'session-a1');
    expect(await index.members('sub:alice')).toEqual(['session-a2']);
    expect(await index.members('sid:s1')).toEqual([]);
    expect(await index.members('sub:bob')).toEqual(['session-b1']);
  });

  test('entries expire after their ttl', async () => {
    const index = make();
    await index.add(['sub:carol'], 'session-c', 1);
    expect(await index.members('sub:carol')).toEqual(['session-c']);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await index.members('sub:carol')).toEqual([]);
  });

  test('firstSeen is true once per key until the ttl passes or the key is forgotten', async () => {
    const index = make();
    expect(await index.firstSeen('iss|jti-1', 1)).toBe(true);
    expect(await index.firstSeen('iss|jti-1', 1)).toBe(false);
    expect(await index.firstSeen('iss|jti-2', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await index.firstSeen('iss|jti-1', 1)).toBe(true);
    expect(await index.firstSeen('iss|jti-3', 60)).toBe(true);
    expect(await index.firstSeen('iss|jti-3', 60)).toBe(false);
    await index.forget('iss|jti-3');
    expect(await index.firstSeen('iss|jti-3', 60)).toBe(true);
  });
});

test('Redis keys live in the given namespace and carry a TTL (no set outlives its sessions)', async () => {
  const prefix = `${PREFIX}ttl:`;
  const index = createRedisSessionIndex(client, prefix);
  await index.add(['sub:dave'], 'session-d', 300);
  await index.firstSeen('iss|jti-d', 120);
  const keys = (await client.keys(`${prefix}*`)).sort();
  expect(keys).toEqual([`${prefix}jti:iss|jti-d`, `${prefix}sub:dave`]);
  for (const key of keys) {
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
  }
});

test('a Redis that does not answer fails closed with SessionStoreError within the deadline', async () => {
  const dead = await startRedis();
  const deadClient = new Redis(dead.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  try {
    await deadClient.ping();
    await dead.stop();
    const index = createRedisSessionIndex(deadClient, `${PREFIX}dead:`, 300);
    const started = Date.now();
    await expect(index.members('sub:x')).rejects.toBeInstanceOf(SessionStoreError);
    await expect(index.firstSeen('iss|jti', 10)).rejects.toBeInstanceOf(SessionStoreError);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    deadClient.disconnect();
    await dead.close();
  }
});
