/**
 * Session control with several providers: endSessions({ sub, provider }) ends only the sessions the user has
 * with that provider (a user id is only unique per IdP), revoking their tokens at that IdP and nowhere else;
 * endSessions({ sub }) then reaches the rest. One app, two real OPs, one user logged in through each.
 */
import express from 'express';
import session from 'express-session';
import { type ProviderConfig, endSessions, oauthErrorHandler, oauthLogin, requireAuth } from '../lib/index.js';
import { testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

let app: TestServer;
let alpha: TestIdp;
let beta: TestIdp;
const ended: Array<{ sub?: string; by: string; sessions: number; provider: string }> = [];

beforeAll(async () => {
  app = await startServer();
  alpha = await startTestIdp({ appBases: [app.url], callbackPaths: ['/callback/alpha'] });
  beta = await startTestIdp({ appBases: [app.url], callbackPaths: ['/callback/beta'] });
  const provider = (name: string, idp: TestIdp): ProviderConfig => ({
    name,
    ...testConfig(app, idp.issuer, {
      sessionControl: true,
      events: {
        sessionsEnded: (e) => {
          ended.push({ ...(e.sub !== undefined && { sub: e.sub }), by: e.by, sessions: e.sessions, provider: name });
        },
      },
    }),
  });
  const a = express();
  a.use(session({ name: 'app.sid', secret: 'test', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  a.use(oauthLogin([provider('alpha', alpha), provider('beta', beta)]));
  a.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user!.sub, provider: req.user!.provider });
  });
  a.use(oauthErrorHandler());
  app.handle(a);
});
afterAll(async () => {
  await Promise.all([app.close(), alpha.close(), beta.close()]);
});

const me = async (browser: Browser) => {
  const res = await browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });
  return { status: res.status, body: res.status === 200 ? (JSON.parse(res.body) as { sub: string; provider: string }) : undefined };
};

test('endSessions({ sub, provider }) ends that provider\'s sessions only, revoking at that IdP; { sub } ends the rest', async () => {
  const viaAlpha = new Browser();
  const viaBeta = new Browser();
  await login(viaAlpha, app.url, { loginPath: '/login/alpha' });
  await login(viaBeta, app.url, { loginPath: '/login/beta' });
  // The same user id at both IdPs: two different people as far as the app can tell, told apart by provider.
  expect((await me(viaAlpha)).body).toEqual({ sub: 'alice', provider: 'alpha' });
  expect((await me(viaBeta)).body).toEqual({ sub: 'alice', provider: 'beta' });
  const [alphaRevoked, betaRevoked] = [alpha.revocations.length, beta.revocations.length];

  expect(await endSessions({ sub: 'alice', provider: 'alpha' })).toBe(1);
  expect((await me(viaAlpha)).status).toBe(401);
  expect((await me(viaBeta)).body).toEqual({ sub: 'alice', provider: 'beta' });
  expect(alpha.revocations.length).toBeGreaterThan(alphaRevoked);
  expect(beta.revocations.length).toBe(betaRevoked);
  expect(ended).toEqual([expect.objectContaining({ sub: 'alice', by: 'admin', sessions: 1, provider: 'alpha' })]);

  // Asking again for alpha finds nothing; without a provider the beta session goes too.
  expect(await endSessions({ sub: 'alice', provider: 'alpha' })).toBe(0);
  expect(await endSessions({ sub: 'alice' })).toBe(1);
  expect((await me(viaBeta)).status).toBe(401);
  expect(beta.revocations.length).toBeGreaterThan(betaRevoked);
  expect(ended.map((e) => e.provider)).toEqual(['alpha', 'beta']);
});
