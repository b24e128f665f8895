/**
 * The session cookie is Secure where it must be (issue 11 point 7): oauthSession() reads the app's origin as
 * oauthLogin() does (baseURL, else OAUTH_BASE_URL) and sets Secure for https; with NODE_ENV=production an http
 * origin that is not loopback, or no origin at all, stops the app with a message that says what to set. The quick
 * start behind a TLS-terminating proxy (`trust proxy`, X-Forwarded-Proto: https) gives a Secure cookie.
 */
import { jest } from '@jest/globals';
import express from 'express';
import { ConfigError, oauthLogin, oauthSession } from '../lib/index.js';
import { resolveSessionOptions } from '../lib/config/session-options.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const SECRET = 'a-test-session-secret-that-is-long-enough-0123456789';
const production = { NODE_ENV: 'production' };

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('oauthSession() options', () => {
  test('an https baseURL, or OAUTH_BASE_URL, makes the cookie Secure; an http loopback one does not', () => {
    expect(resolveSessionOptions({ secret: SECRET, baseURL: 'https://app.example.com' }, {}).secure).toBe(true);
    expect(resolveSessionOptions({ secret: SECRET }, { OAUTH_BASE_URL: 'https://app.example.com' }).secure).toBe(true);
    expect(resolveSessionOptions({ secret: SECRET, baseURL: 'http://127.0.0.1:3000' }, production).secure).toBe(false);
    expect(resolveSessionOptions({ secret: SECRET, baseURL: 'http://localhost:3000' }, production).secure).toBe(false);
    // Without an origin outside production: Secure exactly when the request came over https.
    expect(resolveSessionOptions({ secret: SECRET }, {}).secure).toBe('auto');
  });

  test('NODE_ENV=production with an http origin that is not loopback refuses to start, saying what to set', () => {
    for (const env of [{ ...production }, { ...production, OAUTH_BASE_URL: 'http://app.example.com' }] as NodeJS.ProcessEnv[]) {
      const options = env.OAUTH_BASE_URL ? { secret: SECRET } : { secret: SECRET, baseURL: 'http://app.example.com' };
      const problems = problemsOf(() => resolveSessionOptions(options, env));
      expect(problems).toEqual([expect.stringMatching(/http:\/\/app\.example\.com is http on a non-loopback host.*clear text.*baseURL.*https.*OAUTH_BASE_URL/)]);
    }
    // Not in development: an intranet demo over http still starts (without Secure).
    expect(resolveSessionOptions({ secret: SECRET, baseURL: 'http://app.example.com' }, {}).secure).toBe(false);
  });

  test('NODE_ENV=production without an origin refuses to start, unless cookie.secure is chosen explicitly', () => {
    expect(problemsOf(() => resolveSessionOptions({ secret: SECRET }, production))).toEqual([
      expect.stringMatching(/baseURL is needed with NODE_ENV=production.*Secure.*oauthSession\(\{ baseURL \}\).*OAUTH_BASE_URL/),
    ]);
    expect(resolveSessionOptions({ secret: SECRET, cookie: { secure: 'auto' } }, production).secure).toBe('auto');
    expect(resolveSessionOptions({ secret: SECRET, cookie: { secure: true } }, production).secure).toBe(true);
  });

  test('oauthSession() itself throws the ConfigError at start-up', () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => oauthSession({ secret: SECRET, baseURL: 'http://app.example.com' })).toThrow(ConfigError);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
});

describe('the quick start behind a TLS-terminating proxy', () => {
  let idp: HostileIdp;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    idp = await startHostileIdp();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await idp.close();
  });

  /** The README's quick start, with `trust proxy` as behind a proxy; `sessionOrigin` also goes to oauthSession(). */
  async function quickStart(sessionOrigin: boolean): Promise<TestServer> {
    const server = await startServer();
    servers.push(server);
    const app = express();
    app.set('trust proxy', 'loopback');
    const baseURL = 'https://app.example.com';
    app.use(oauthSession({ secret: SECRET, ...(sessionOrigin && { baseURL }) }));
    app.use(
      oauthLogin({ issuer: idp.issuer, clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET, baseURL, allowInsecureRequests: true }),
    );
    server.handle(app);
    return server;
  }

  const login = (server: TestServer, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/login`, { redirect: 'manual', headers });

  test.each([
    ['with baseURL given to both', true],
    ['with baseURL given to oauthLogin() only', false],
  ])('%s: X-Forwarded-Proto: https gives a Secure, HttpOnly, SameSite=Lax cookie', async (_name, sessionOrigin) => {
    const server = await quickStart(sessionOrigin);
    const res = await login(server, { 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(302);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^oauth\.sid=/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
  });

  test('a Secure cookie on a request that looks like plain http is not set, and a warning says to set trust proxy', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const server = await quickStart(true);
      const res = await login(server);
      expect(res.status).toBe(302);
      expect(res.headers.get('set-cookie')).toBeNull();
      const messages = warn.mock.calls.map((call) => String(call[0]));
      expect(messages).toContainEqual(expect.stringMatching(/Secure but this request came over http.*trust proxy/));
    } finally {
      warn.mockRestore();
    }
  });
});
