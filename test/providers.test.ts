/**
 * Issue 7, several providers: two real OPs ("alpha", "beta") and a hostile one in one app. Each has its own login
 * and callback routes, req.user says which provider, refresh and logout go to the user's IdP, and a response meant
 * for one provider is refused at another's callback (mix-up defense) before any code is redeemed. Mounting several
 * oauthLogin() works the same.
 */
import express from 'express';
import session from 'express-session';
import { oauthErrorHandler, oauthLogin, type ProviderConfig, requireAuth } from '../lib/index.js';
import { testConfig } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import { HOSTILE_CLIENT_ID, HOSTILE_CLIENT_SECRET, type HostileIdp, startHostileIdp } from './helpers/hostile-idp.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { confirmAtIdp, endSessionForm, postLogout } from './helpers/logout.js';

let app: TestServer;
let separate: TestServer;
let alpha: TestIdp;
let beta: TestIdp;
let evil: HostileIdp;

function appWith(server: TestServer, mount: (a: express.Express) => void) {
  const a = express();
  a.use(session({ name: 'app.sid', secret: 'test', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  mount(a);
  a.get('/api/me', requireAuth(), (req, res) => {
    res.json({ sub: req.user!.sub, provider: req.user!.provider });
  });
  a.get('/profile', requireAuth(), (_req, res) => {
    res.send('profile');
  });
  a.use(oauthErrorHandler());
  server.handle(a);
}

beforeAll(async () => {
  app = await startServer();
  separate = await startServer();
  const options = { appBases: [app.url, separate.url], accessTokenTTL: 20 }; // access tokens always due for refresh
  alpha = await startTestIdp({ ...options, callbackPaths: ['/callback/alpha'] });
  beta = await startTestIdp({ ...options, callbackPaths: ['/callback/beta'] });
  evil = await startHostileIdp();
  const providers = (server: TestServer): ProviderConfig[] => [
    { name: 'alpha', ...testConfig(server, alpha.issuer) },
    { name: 'beta', ...testConfig(server, beta.issuer, { postLogoutRedirect: '/bye-beta' }) },
    { name: 'evil', ...testConfig(server, evil.issuer, { clientId: HOSTILE_CLIENT_ID, clientSecret: HOSTILE_CLIENT_SECRET }) },
  ];
  appWith(app, (a) => a.use(oauthLogin(providers(app))));
  appWith(separate, (a) => {
    for (const p of providers(separate)) a.use(oauthLogin(p));
  });
});
afterAll(async () => {
  await Promise.all([app.close(), separate.close(), alpha.close(), beta.close(), evil.close()]);
});
afterEach(() => evil.reset());

const me = async (browser: Browser, url: string) => {
  const res = await browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });
  return { status: res.status, body: res.status === 200 ? JSON.parse(res.body) : undefined };
};

describe.each([
  ['oauthLogin([...])', () => app],
  ['several oauthLogin()', () => separate],
])('%s', (_name, server) => {
  test('each provider has its own routes; req.user.provider names the one used; refresh goes to that IdP', async () => {
    const url = server().url;
    const browser = new Browser();
    expect(new URL((await browser.request(`${url}/login/beta`)).location!).origin).toBe(beta.issuer);
    const { final } = await login(browser, url, { loginPath: '/login/beta', user: 'bob', returnTo: '/api/me' });
    expect(JSON.parse(final.body)).toEqual({ sub: 'bob', provider: 'beta' });
    const [a, b] = [alpha.grants.refresh_token ?? 0, beta.grants.refresh_token ?? 0];
    expect((await me(browser, url)).body).toEqual({ sub: 'bob', provider: 'beta' });
    expect(beta.grants.refresh_token).toBe(b + 1);
    expect(alpha.grants.refresh_token ?? 0).toBe(a);
    // Logging in with alpha replaces the user; refresh then goes to alpha.
    await login(browser, url, { loginPath: '/login/alpha', returnTo: '/' });
    expect((await me(browser, url)).body).toEqual({ sub: 'alice', provider: 'alpha' });
    expect(alpha.grants.refresh_token).toBe(a + 1);
  });

  test('the shared /logout ends the session at the IdP the user logged in with', async () => {
    const url = server().url;
    const browser = new Browser();
    await login(browser, url, { loginPath: '/login/beta', returnTo: '/' });
    const out = await postLogout(browser, url);
    expect(out.status).toBe(200);
    expect(new URL(endSessionForm(out).action).origin).toBe(beta.issuer);
    expect((await me(browser, url)).status).toBe(401);
    // The IdP's return reaches beta's logout route (the session remembers whose logout it is): beta's destination.
    const back = (await confirmAtIdp(browser, out)).find((h) => h.url.startsWith(`${url}/logout?state=`))!;
    expect(back.status).toBe(302);
    expect(back.location).toBe(`${url}/bye-beta`);
  });

  test('mix-up: a response from beta delivered to alpha\'s callback is refused and nothing is redeemed', async () => {
    const url = server().url;
    const browser = new Browser();
    const { callback } = await login(browser, url, { loginPath: '/login/beta', stopAtCallback: true });
    const response = new URL(callback.location!);
    expect(response.pathname).toBe('/callback/beta');
    const redeemed = [alpha.grants.authorization_code ?? 0, beta.grants.authorization_code ?? 0];
    const res = await browser.request(`${url}/callback/alpha${response.search}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    // Refused by the pending login's issuer, before openid-client would even look at the iss parameter.
    expect(JSON.parse(res.body)).toEqual({ error: 'callback_invalid', message: expect.stringMatching(/different identity provider/) });
    expect([alpha.grants.authorization_code ?? 0, beta.grants.authorization_code ?? 0]).toEqual(redeemed);
    expect((await me(browser, url)).status).toBe(401);
  });

  test('mix-up: an IdP whose response claims another provider\'s iss (RFC 9207) is refused before redeeming', async () => {
    const url = server().url;
    evil.set({ issParam: alpha.issuer });
    const before = evil.tokenRequests.length;
    const browser = new Browser();
    const hops = await browser.navigate(`${url}/login/evil`, { headers: { accept: 'application/json' } });
    const callback = hops.find((h) => h.url.startsWith(`${url}/callback/evil`))!;
    expect(callback.status).toBe(400);
    expect(JSON.parse(callback.body).error).toBe('callback_invalid');
    expect(evil.tokenRequests.length).toBe(before);
    expect((await me(browser, url)).status).toBe(401);
  });

  test('requireAuth sends an anonymous browser to the first provider\'s login route', async () => {
    const res = await new Browser().request(`${server().url}/profile`);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${server().url}/login/alpha?returnTo=%2Fprofile`);
  });
});
