/**
 * Codes, tokens, secrets and PKCE verifiers never reach a log line, an error message or body, a cookie or a URL
 * the app sends — on success and on every kind of failure.
 */
import { jest } from '@jest/globals';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { Browser, type Hop } from './helpers/browser.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { oauthLogin, requireAuth } from '../lib/index.js';

let app: TestServer;
let idp: HostileIdp;
const errors: unknown[] = [];
const logged: string[] = [];
const hops: Hop[] = [];

beforeAll(async () => {
  idp = await startHostileIdp();
  app = await startServer();
  const a = express();
  a.use(session({ name: 'app.sid', secret: 'test', resave: false, saveUninitialized: false }));
  a.use(
    oauthLogin({
      issuer: idp.issuer,
      clientId: HOSTILE_CLIENT_ID,
      clientSecret: HOSTILE_CLIENT_SECRET,
      baseURL: app.url,
      allowInsecureRequests: true,
      httpTimeout: 500,
      // The app's handler collects every error, the middleware's own routes included.
      errorPage: false,
    }),
  );
  a.get('/api/me', requireAuth(), (req, res) => res.json(req.user));
  const handler: ErrorRequestHandler = (err, _req, res, _next) => {
    errors.push(err);
    res.status(err.status ?? 500).json({ code: err.code, message: err.message });
  };
  a.use(handler);
  app.handle(a);
});
afterAll(async () => {
  await app.close();
  await idp.close();
});

async function attempt(): Promise<void> {
  const browser = new Browser();
  const all = await browser.navigate(`${app.url}/login`);
  hops.push(...all, await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } }));
}

test('no secret value leaks anywhere across successful and failed logins and refreshes', async () => {
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : String(a))).join(' '));
    }),
  );
  try {
    await attempt(); // success
    for (const m of [
      { tokenError: { status: 400, body: { error: 'invalid_grant' } } },
      { tokenError: { status: 500, body: '<h1>boom</h1>', contentType: 'text/html' } },
      { signing: 'other-key' as const },
      { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'wrong' }) },
      { tokenDelayMs: 1500 },
      { issParam: 'https://evil.example' },
    ]) {
      idp.set(m);
      await attempt();
      idp.reset();
    }
  } finally {
    for (const spy of spies) spy.mockRestore();
  }

  const success = hops.find((h) => h.url === `${app.url}/api/me` && h.status === 200);
  expect(success).toBeDefined();
  const user = JSON.parse(success!.body);
  const secrets = [
    HOSTILE_CLIENT_SECRET,
    user.accessToken,
    user.refreshToken,
    user.idToken,
    ...idp.tokenRequests.flatMap((r) => [r.get('code'), r.get('code_verifier')]),
  ].filter((s): s is string => typeof s === 'string' && s.length > 8);
  expect(secrets.length).toBeGreaterThanOrEqual(4 + 2 * 6);
  expect(errors.length).toBeGreaterThanOrEqual(6);

  // What the app sent: Location and Set-Cookie headers of every app response, and every error body but /api/me's.
  const appHops = hops.filter((h) => h.url.startsWith(app.url));
  const sent = appHops.flatMap((h) => [
    h.headers.get('location') ?? '',
    ...h.headers.getSetCookie(),
    h.url.startsWith(`${app.url}/api/me`) && h.status === 200 ? '' : h.body,
  ]);
  const errorText = errors.map((e) => `${(e as Error).message} ${JSON.stringify(e)}`);
  for (const secret of secrets) {
    for (const text of [...sent, ...errorText, ...logged]) expect(text.includes(secret)).toBe(false);
  }
});
