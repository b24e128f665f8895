/**
 * providers.gitlab() against the GitLab stand-in (GitLab's documented OpenID Provider shapes on loopback): an
 * OpenID Connect login with a nonce, the numeric id as `sub`, `groups` from UserInfo for claim rules, refresh with
 * rotation, and a local logout (GitLab has no end-session endpoint).
 */
import session from 'express-session';
import { providers, requireAuth } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { GITLAB_CLIENT_ID, GITLAB_CLIENT_SECRET, type GitlabStandIn, startGitlabStandIn } from './helpers/standins/gitlab.js';
import { postLogout } from './helpers/logout.js';
import { editSession, sessionIdOf } from './helpers/store.js';

let app: TestServer;
let gl: GitlabStandIn;
const store = new session.MemoryStore();
const json = { accept: 'application/json' };

beforeAll(async () => {
  app = await startServer();
  gl = await startGitlabStandIn();
  buildApp({
    server: app,
    issuer: gl.url,
    store,
    config: { ...providers.gitlab({ url: gl.url }), clientId: GITLAB_CLIENT_ID, clientSecret: GITLAB_CLIENT_SECRET },
    routes: (a) => {
      a.get('/acme', requireAuth({ claims: { groups: 'acme/platform' } }), (req, res) => {
        res.json({ sub: req.user?.sub });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await gl.close();
});

test('the preset is data: gitlab.com by default', () => {
  expect(providers.gitlab()).toEqual({ issuer: 'https://gitlab.com', scope: 'openid profile email', fetchUserinfo: true });
});

test('login: a nonce and PKCE S256 are sent; the ID token says who, UserInfo adds groups', async () => {
  const browser = new Browser();
  const last = (await browser.navigate(`${app.url}/login?returnTo=%2Fprofile`)).at(-1)!;
  expect(last.status).toBe(200);
  const user = JSON.parse(last.body);
  expect(user.sub).toBe('1');
  expect(user.claims).toMatchObject({ preferred_username: 'jdoe', email: 'jane@gitlab.example', email_verified: true, groups_direct: ['acme'], groups: ['acme', 'acme/platform'] });
  expect(user.idToken).toEqual(expect.any(String));
  const sent = gl.authorizeRequests.at(-1)!;
  expect(sent.get('nonce')).toMatch(/^[\w-]{43,}$/);
  expect(sent.get('code_challenge_method')).toBe('S256');
  expect((await browser.request(`${app.url}/acme`, { headers: json })).status).toBe(200);
});

test('a user outside the group is refused by the claim rule', async () => {
  gl.as('rsmith');
  const browser = new Browser();
  await browser.navigate(`${app.url}/login`);
  const res = await browser.request(`${app.url}/acme`, { headers: json });
  expect(res.status).toBe(403);
  gl.as('jdoe');
});

test('refresh rotates the refresh token and keeps the user; logout is local and ends the session', async () => {
  const browser = new Browser();
  await browser.navigate(`${app.url}/login`);
  const first = JSON.parse((await browser.request(`${app.url}/api/me`, { headers: json })).body);
  editSession(store, sessionIdOf(browser), (s) => {
    s.oauth.user.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10;
  });
  const before = gl.grants.refresh_token ?? 0;
  const fresh = JSON.parse((await browser.request(`${app.url}/api/me`, { headers: json })).body);
  expect(fresh.sub).toBe('1');
  expect(fresh.accessToken).not.toBe(first.accessToken);
  expect(gl.grants.refresh_token).toBe(before + 1);
  const out = await postLogout(browser, app.url);
  expect(out.status).toBe(302);
  expect(out.location).not.toContain(gl.url);
  expect((await browser.request(`${app.url}/api/me`, { headers: json })).status).toBe(401);
});
