/**
 * Two presets side by side, as an app offering "Log in with GitHub" and "Log in with GitLab" would mount them: one
 * plain OAuth 2.0, one OpenID Connect, each with its own routes; req.user.provider says which one, and a response
 * meant for one provider's login cannot complete at the other's callback.
 */
import express from 'express';
import session from 'express-session';
import { oauthErrorHandler, oauthLogin, providers, requireAuth } from '../lib/index.js';
import { Browser } from './helpers/browser.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, type GithubStandIn, loginWithGithub, startGithub } from './helpers/standins/github.js';
import { GITLAB_CLIENT_ID, GITLAB_CLIENT_SECRET, type GitlabStandIn, startGitlabStandIn } from './helpers/standins/gitlab.js';

let app: TestServer;
let gh: GithubStandIn;
let gl: GitlabStandIn;

beforeAll(async () => {
  app = await startServer();
  gh = await startGithub(app.url, { callbackPath: '/callback/github' });
  gl = await startGitlabStandIn();
  const web = express();
  web.use(session({ name: 'app.sid', secret: 'test-session-secret', resave: false, saveUninitialized: false }));
  const common = { baseURL: app.url, allowInsecureRequests: true, httpTimeout: 2000 };
  web.use(
    oauthLogin([
      { name: 'github', ...providers.github({ enterpriseUrl: gh.url }), clientId: GITHUB_CLIENT_ID, clientSecret: GITHUB_CLIENT_SECRET, ...common },
      { name: 'gitlab', ...providers.gitlab({ url: gl.url }), clientId: GITLAB_CLIENT_ID, clientSecret: GITLAB_CLIENT_SECRET, ...common },
    ]),
  );
  web.get('/me', requireAuth({ onUnauthenticated: '401' }), (req, res) => {
    res.json({ provider: req.user?.provider, sub: req.user?.sub });
  });
  web.use(oauthErrorHandler());
  app.handle(web);
});
afterAll(async () => {
  await Promise.all([app.close(), gh.close(), gl.close()]);
});

test('GitHub (OAuth 2.0) and GitLab (OpenID Connect) side by side: each login names its provider', async () => {
  const a = new Browser();
  await loginWithGithub(a, app.url, { loginPath: '/login/github' });
  expect(JSON.parse((await a.request(`${app.url}/me`)).body)).toEqual({ provider: 'github', sub: '583231' });
  const b = new Browser();
  await b.navigate(`${app.url}/login/gitlab`);
  expect(JSON.parse((await b.request(`${app.url}/me`)).body)).toEqual({ provider: 'gitlab', sub: '1' });
});

test('a GitHub login\'s response brought to the GitLab callback is refused before anything is redeemed', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/login/github`);
  const page = hops.at(-1)!;
  const { formAction, hiddenInputs } = await import('./helpers/browser.js');
  const form = hiddenInputs(page.body);
  form.set('login', 'octocat');
  form.set('decision', 'allow');
  const back = await browser.navigate(formAction(page.body, page.url), { method: 'POST', body: form, stopAt: (u) => u.startsWith(`${app.url}/callback/github`) });
  const callback = new URL(back.at(-1)!.location!);
  const before = gh.requests.filter((r) => r.path === '/login/oauth/access_token').length;
  const wrong = await browser.request(`${app.url}/callback/gitlab${callback.search}`);
  expect(wrong.status).toBe(400);
  expect(gh.requests.filter((r) => r.path === '/login/oauth/access_token').length).toBe(before);
  expect((await browser.request(`${app.url}/me`)).status).toBe(401);
});
