/** The redis-server test helper itself: starts, answers, persists across a restart when asked to. */
import { Redis } from 'ioredis';
import { startRedis } from './helpers/redis.js';

test('a test redis-server keeps data across stop/start when persistence is on', async () => {
  const server = await startRedis({ persistence: true });
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    await client.set('k', 'v');
    client.disconnect();
    await server.stop();
    await server.start();
    const again = new Redis(server.url, { maxRetriesPerRequest: 1 });
    expect(await again.get('k')).toBe('v');
    again.disconnect();
  } finally {
    client.disconnect();
    await server.close();
  }
});
