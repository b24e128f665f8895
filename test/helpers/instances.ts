/**
 * App instances that keep sessions in Redis through oauthSession(), as several processes behind a load balancer
 * would. Instances can share one public baseURL (the "load balancer") while each listens on its own port.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { oauthErrorHandler, oauthLogin, type OAuthLoginConfig, oauthSession, type OAuthSessionOptions, requireAuth } from '../../lib/index.js';
import { testConfig } from './app.js';
import { type TestIdp, type TestIdpOptions, startTestIdp } from './idp.js';
import { type RedisServer, startRedis } from './redis.js';
import { type TestServer, startServer } from './servers.js';

export const SECRET = 'a-test-session-secret-that-is-long-enough-0123456789';

export interface InstanceOptions {
  issuer: string;
  redis: OAuthSessionOptions['redis'];
  /** The public URL the IdP redirects to; default: the instance's own URL. */
  baseURL?: string;
  server?: TestServer;
  session?: Partial<OAuthSessionOptions>;
  config?: Partial<OAuthLoginConfig>;
  /** Middleware between the session and oauthLogin() (e.g. one that holds a request after its session loaded). */
  beforeLogin?: (app: express.Express) => void;
  /** Extra routes, mounted after oauthLogin() (e.g. one that holds a request open until the test releases it). */
  routes?: (app: express.Express) => void;
}

/** Starts an instance; its `close()` also closes the Redis connection oauthSession() opened from a URL. */
export async function startInstance(options: InstanceOptions): Promise<TestServer> {
  const server = options.server ?? (await startServer());
  const app = express();
  const sessions = oauthSession({ secret: SECRET, redis: options.redis, storeTimeout: 1000, cookie: { name: 'app.sid' }, ...options.session });
  app.use(sessions);
  options.beforeLogin?.(app);
  app.use(oauthLogin(testConfig(server, options.issuer, { baseURL: options.baseURL ?? server.url, ...options.config })));
  app.get('/profile', requireAuth(), (req, res) => {
    res.json(req.user);
  });
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user?.sub, accessToken: req.user?.accessToken, expiresAt: req.user?.expiresAt });
  });
  options.routes?.(app);
  app.use(oauthErrorHandler());
  server.handle(app);
  const closeServer = server.close;
  // Closing the instance also closes the Redis connection oauthSession() opened.
  return { ...server, close: async () => {
    await closeServer();
    await sessions.close();
  } };
}

/** Two instances behind one public URL (a's), a redis-server they share, the test IdP, and a raw Redis client. */
export interface Cluster2 {
  redis: RedisServer;
  idp: TestIdp;
  a: TestServer;
  b: TestServer;
  raw: Redis;
  close(): Promise<void>;
}

/**
 * The usual set-up of a multi-instance test: `idpOptions(a, b)` gets both servers (e.g. to point back-channel
 * logout at b); `config` goes to both instances' oauthLogin(). Call in beforeAll; `close()` in afterAll.
 */
export async function startTwoInstances(
  config: Partial<OAuthLoginConfig> = {},
  idpOptions: (a: TestServer, b: TestServer) => Omit<TestIdpOptions, 'appBases'> = () => ({}),
  routes?: (app: express.Express) => void,
): Promise<Cluster2> {
  const redis = await startRedis();
  const a0 = await startServer();
  const b0 = await startServer();
  const idp = await startTestIdp({ appBases: [a0.url], ...idpOptions(a0, b0) });
  const a = await startInstance({ issuer: idp.issuer, redis: redis.url, server: a0, config, ...(routes && { routes }) });
  const b = await startInstance({ issuer: idp.issuer, redis: redis.url, server: b0, baseURL: a.url, config, ...(routes && { routes }) });
  const raw = new Redis(redis.url);
  return {
    redis,
    idp,
    a,
    b,
    raw,
    async close() {
      raw.disconnect();
      await a.close();
      await b.close();
      await idp.close();
      await redis.close();
    },
  };
}

/** Records every command Redis executes (MONITOR on its own connection), to count what a request costs. */
export async function monitorRedis(url: string): Promise<{ commands: string[][]; stop(): Promise<void> }> {
  const client = new Redis(url);
  const monitor = await client.monitor();
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
  return {
    commands,
    async stop() {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

/** The session id behind a signed express-session cookie value (`s:<id>.<signature>`). */
export function sessionIdFromCookie(value: string): string {
  return decodeURIComponent(value).slice(2).split('.')[0]!;
}
