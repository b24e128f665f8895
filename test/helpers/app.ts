/** A test app: express-session (distinct cookie name) + oauthLogin + a few protected routes. */
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { type OAuthLoginConfig, oauthErrorHandler, oauthLogin, requireAuth } from '../../lib/index.js';
import { CLIENT_ID, CLIENT_SECRET, type TestIdp, type TestIdpOptions, startTestIdp } from './idp.js';
import { type TestServer, startServer } from './servers.js';

export const SESSION_COOKIE = 'app.sid';

export interface TestAppOptions {
  server: TestServer;
  issuer: string;
  config?: Partial<OAuthLoginConfig>;
  store?: session.Store;
  /**
   * Install an app error handler that renders `{ handledBy: 'app', code, status, message }`, and hand it the errors
   * of the middleware's own routes too (`errorPage: false`).
   */
  errorHandler?: boolean;
  /** Skip express-session entirely (to test the setup error). */
  noSession?: boolean;
  /** The test's own routes, mounted after the standard ones and before the error handler. */
  routes?: (app: express.Express) => void;
}

export function testConfig(server: TestServer, issuer: string, config: Partial<OAuthLoginConfig> = {}): OAuthLoginConfig {
  return {
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    baseURL: server.url,
    allowInsecureRequests: true,
    httpTimeout: 2000,
    ...config,
  };
}

export function buildApp(options: TestAppOptions): express.Express {
  const app = express();
  if (!options.noSession) {
    app.use(
      session({
        name: SESSION_COOKIE,
        secret: 'test-session-secret',
        resave: false,
        saveUninitialized: false,
        cookie: { httpOnly: true, sameSite: 'lax' },
        ...(options.store && { store: options.store }),
      }),
    );
  }
  const config = testConfig(options.server, options.issuer, { ...(options.errorHandler && { errorPage: false }), ...options.config });
  app.use(oauthLogin(config));
  app.get('/', (_req, res) => {
    res.send('home');
  });
  app.get('/profile', requireAuth(), (req, res) => {
    res.json(req.user);
  });
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user?.sub, accessToken: req.user?.accessToken, expiresAt: req.user?.expiresAt });
  });
  app.post('/api/echo', requireAuth(), (req, res) => {
    res.json({ sub: req.user?.sub });
  });
  options.routes?.(app);
  if (options.errorHandler) {
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      res.status(err.status ?? 500).json({ handledBy: 'app', code: err.code, status: err.status, message: err.message });
    };
    app.use(handler);
  } else {
    app.use(oauthErrorHandler());
  }
  options.server.handle(app);
  return app;
}

/**
 * The usual set-up of a test file: an app server, the test IdP knowing it as a client, and buildApp() on it.
 * Call in beforeAll; `close()` in afterAll.
 */
export async function startAppWithIdp(
  idpOptions: Omit<TestIdpOptions, 'appBases'> = {},
  appOptions: Omit<TestAppOptions, 'server' | 'issuer'> = {},
): Promise<{ app: TestServer; idp: TestIdp; close(): Promise<void> }> {
  const app = await startServer();
  const idp = await startTestIdp({ appBases: [app.url], ...idpOptions });
  buildApp({ server: app, issuer: idp.issuer, ...appOptions });
  return {
    app,
    idp,
    async close() {
      await app.close();
      await idp.close();
    },
  };
}
