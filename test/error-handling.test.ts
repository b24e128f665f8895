/**
 * What an app sees of the middleware's errors, the same on Express 4 and 5 (this file runs in both projects):
 * - errors on the middleware's own routes (login, callback, logout) get the built-in page from the router's own
 *   error handler, whether or not the app has one; with `errorPage: false` they reach the app's handlers instead;
 * - errors of the guards (requireAuth) reach the app with next(err): its handler, `oauthErrorHandler()`, or, with
 *   neither, Express' final handler, which still answers with the error's status and headers;
 * - no error path reads Express internals, so none of them throws (Express 4's `app.router` getter does).
 */
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { type ErrorEvent, OAuthLoginError, oauthErrorHandler, oauthLogin, requireAuth } from '../lib/index.js';
import { testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { EXPRESS_MAJOR } from './helpers/express-major.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

type Variant = 'no-handler' | 'oauthErrorHandler' | 'app-handler' | 'app-handler-errorPage-false';
const variants: Variant[] = ['no-handler', 'oauthErrorHandler', 'app-handler', 'app-handler-errorPage-false'];
const servers = new Map<Variant, TestServer>();
const seenByApp = new Map<Variant, OAuthLoginError[]>();
const events: ErrorEvent[] = [];
let idp: TestIdp;

function appFor(server: TestServer, variant: Variant): void {
  const app = express();
  app.use(session({ name: 'app.sid', secret: 'test', resave: false, saveUninitialized: false }));
  app.use(
    oauthLogin(
      testConfig(server, idp.issuer, {
        ...(variant === 'app-handler-errorPage-false' && { errorPage: false }),
        events: { error: (e) => void events.push(e) },
      }),
    ),
  );
  app.get('/api/me', requireAuth(), (req, res) => res.json({ sub: req.user!.sub }));
  if (variant === 'oauthErrorHandler') app.use(oauthErrorHandler());
  if (variant.startsWith('app-handler')) {
    const seen: OAuthLoginError[] = [];
    seenByApp.set(variant, seen);
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      seen.push(err);
      res.status(err.status ?? 500).json({ handledBy: 'app', code: err.code });
    };
    app.use(handler);
  }
  server.handle(app);
}

beforeAll(async () => {
  for (const v of variants) servers.set(v, await startServer());
  idp = await startTestIdp({ appBases: [...servers.values()].map((s) => s.url) });
  for (const v of variants) appFor(servers.get(v)!, v);
});
afterAll(async () => {
  for (const s of servers.values()) await s.close();
  await idp.close();
});
beforeEach(() => {
  events.length = 0;
  for (const seen of seenByApp.values()) seen.length = 0;
});

const badCallback = (v: Variant) => new Browser().request(`${servers.get(v)!.url}/callback?code=forged&state=forged`, { headers: { accept: 'text/html' } });
const anonymousApi = (v: Variant) => new Browser().request(`${servers.get(v)!.url}/api/me`, { headers: { accept: 'application/json' } });

describe(`on Express ${EXPRESS_MAJOR}`, () => {
  test.each(['no-handler', 'oauthErrorHandler', 'app-handler'] as const)(
    'a bad callback gets the built-in 400 page (%s), and the error event fires once',
    async (v) => {
      const res = await badCallback(v);
      expect(res.status).toBe(400);
      expect(res.body).toContain('We could not sign you in');
      expect(res.body).toContain('state_unknown');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(seenByApp.get('app-handler') ?? []).toEqual([]);
      expect(events.map((e) => e.code)).toEqual(['state_unknown']);
    },
  );

  test('with errorPage: false the app handler gets the callback error through next(err)', async () => {
    const res = await badCallback('app-handler-errorPage-false');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ handledBy: 'app', code: 'state_unknown' });
    const seen = seenByApp.get('app-handler-errorPage-false')!;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(OAuthLoginError);
    // The callback's headers are set before anything can fail, whoever renders the error.
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('requireAuth errors reach the app handler with next(err)', async () => {
    for (const v of ['app-handler', 'app-handler-errorPage-false'] as const) {
      const res = await anonymousApi(v);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ handledBy: 'app', code: 'unauthenticated' });
    }
  });

  test('oauthErrorHandler() renders requireAuth errors: 401 JSON for an API call', async () => {
    const res = await anonymousApi('oauthErrorHandler');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test("with no handler at all, Express' final handler answers requireAuth errors with their status and headers", async () => {
    const res = await anonymousApi('no-handler');
    expect(res.status).toBe(401);
    // err.headers: Express' final handler copies them onto the response.
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(events.map((e) => e.code)).toEqual(['unauthenticated']);
  });
});
