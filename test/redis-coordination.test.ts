/**
 * Which Redis client coordinates instances: the `redis` option, the client of oauthSession()'s store, or none —
 * and a warning, with the fix, when the app mounted connect-redis itself without telling oauthLogin().
 */
import { jest } from '@jest/globals';
import type { Request } from 'express';
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import session from 'express-session';
import { resolveConfig } from '../lib/config/schema.js';
import { coordinationClient } from '../lib/session/redis.js';

const base = { issuer: 'https://idp.example.com', clientId: 'app', clientSecret: 's', baseURL: 'https://app.example.com' };
// lazyConnect: choosing a client never talks to Redis.
const client = new Redis({ lazyConnect: true });
const reqWith = (store: session.Store) => ({ sessionStore: store }) as unknown as Request;

afterAll(() => client.disconnect());

test('the redis option wins, whatever the store', () => {
  const config = resolveConfig({ ...base, redis: client }, {});
  expect(coordinationClient(config, reqWith(new session.MemoryStore()))?.client).toBe(client);
});

test('an app-built connect-redis store without the redis option: no coordination client, and one warning that says what to pass', () => {
  const config = resolveConfig(base, {});
  const store = new RedisStore({ client });
  const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    expect(coordinationClient(config, reqWith(store))).toBeUndefined();
    expect(coordinationClient(config, reqWith(store))).toBeUndefined();
    expect(emit).toHaveBeenCalledTimes(1);
    expect(String(emit.mock.calls[0]?.[0])).toContain('oauthLogin({ redis: client })');
  } finally {
    emit.mockRestore();
  }
});

test('MemoryStore: per-process coordination, no warning', () => {
  const config = resolveConfig(base, {});
  const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    expect(coordinationClient(config, reqWith(new session.MemoryStore()))).toBeUndefined();
    expect(emit).not.toHaveBeenCalled();
  } finally {
    emit.mockRestore();
  }
});
