/**
 * End-to-end: a real browser (Debian's Chromium driven by playwright-core, never a downloaded one) logs in to the
 * example app through the embedded IdP's real login and consent pages.
 *
 * Without /usr/bin/chromium this file fails with a clear message. On a developer machine outside CI, jest.config.js
 * leaves it out instead (and says so); CI never does.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { type ExampleApp, startExampleApp } from '../example-app/server.js';
import { DEMO_USERS } from '../example-app/idp.js';
import { Redis } from 'ioredis';
import { expressExecArgv } from './helpers/express-major.js';
import { startRedis } from './helpers/redis.js';
import { readStored } from './helpers/sealed.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

let browser: Browser;
let app: ExampleApp;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `End-to-end tests need Chromium at ${CHROMIUM}: run \`npm run setup\` as root or \`apt-get install -y chromium\`. ` +
        'These tests never download a browser and never skip in CI.',
    );
  }
  app = await startExampleApp({ port: 0, idpPort: 0, quiet: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** What one page saw: every committed main-frame URL and every request that reached the app's callback. */
interface Watched {
  page: Page;
  committed: string[];
  callbacks: { url: string; status: number; headers: Record<string, string> }[];
}

async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  // Fail with Playwright's precise message (what it waited for, where the page was) before jest's own timeout.
  page.setDefaultTimeout(10_000);
  const watched: Watched = { page, committed: [], callbacks: [] };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) watched.committed.push(frame.url());
  });
  page.on('response', (response) => {
    if (response.url().startsWith(`${app.url}/callback`)) {
      watched.callbacks.push({ url: response.url(), status: response.status(), headers: response.headers() });
    }
  });
  return watched;
}

/** The session history as the browser keeps it (what Back and Forward walk through). */
async function historyUrls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { entries } = await cdp.send('Page.getNavigationHistory');
    return entries.map((e) => e.url);
  } finally {
    await cdp.detach();
  }
}

/** Where the example app and its IdP listen. */
type Target = Pick<ExampleApp, 'url' | 'issuer'>;

/** Fills the IdP's login form, allows the consent page if it comes, and waits for the app's profile page. */
async function signInAtIdp(page: Page, user: keyof typeof DEMO_USERS = 'alice', target: Target = app): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(`${target.issuer}/interaction/`));
  await page.fill('#login', user);
  await page.fill('#password', DEMO_USERS[user].password);
  await page.click('button:has-text("Sign in")');
  await page.waitForURL((url) => url.href.startsWith(`${target.url}/profile`) || url.href.startsWith(`${target.issuer}/interaction/`));
  if (page.url().startsWith(`${target.issuer}/interaction/`)) {
    await page.click('button:has-text("Allow")');
  }
  await page.waitForURL(`${target.url}/profile`);
}

/** Starts at the home page, presses Log in, signs in. */
async function logInFromHome(page: Page, user: keyof typeof DEMO_USERS = 'alice', target: Target = app): Promise<void> {
  await page.goto(`${target.url}/`);
  await page.click('main a:has-text("Log in")');
  await signInAtIdp(page, user, target);
}

/**
 * `npm start` as a newcomer runs it: `node example-app/server.js` in its own process (real Node, not jest's VM), on
 * the built package in dist/ (`npm test` builds it first), with ports picked by the OS, on this run's Express major.
 */
async function spawnExampleApp(): Promise<Target & { output: () => string; close: () => Promise<void> }> {
  if (!existsSync(join(process.cwd(), 'dist', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', IDP_PORT: '0' };
  for (const name of ['OAUTH_ISSUER', 'OAUTH_CLIENT_ID', 'OAUTH_CLIENT_SECRET', 'OAUTH_BASE_URL', 'REDIS_URL']) delete env[name];
  const child = spawn(process.execPath, [...expressExecArgv(), 'example-app/server.js'], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const url = /Example app:\s+(http:\/\/\S+)/.exec(output)?.[1];
    const issuer = /Demo IdP:\s+(http:\/\/\S+)/.exec(output)?.[1];
    if (url && issuer) return { url, issuer, output: () => output, close };
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`node example-app/server.js did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function fetchApi(page: Page): Promise<{ status: number; body: { error?: string; userinfo?: { sub?: string; email?: string } } }> {
  return page.evaluate(async () => {
    const res = await fetch('/api/userinfo', { headers: { Accept: 'application/json' }, redirect: 'manual' });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  });
}

test('logs in through the IdP form; the profile shows the claims, a live countdown and the protected API', async () => {
  const context = await browser.newContext();
  const { page, committed, callbacks } = await watchedPage(context);
  await logInFromHome(page);

  expect(page.url()).toBe(`${app.url}/profile`);
  await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Alice Example');
  await expect(page.locator('table.claims').textContent()).resolves.toContain('alice@example.com');
  const claimNames = await page.locator('table.claims th').allTextContents();
  expect(claimNames).toEqual(expect.arrayContaining(['sub', 'email', 'name', 'iss']));
  expect(claimNames).not.toContain('nonce');

  // The countdown is live: it reads m:ss and goes down.
  const countdown = page.locator('#countdown');
  const first = await countdown.textContent();
  expect(first).toMatch(/^[0-9]+:[0-5][0-9]$/);
  await page.waitForFunction((before) => document.getElementById('countdown')?.textContent !== before, first, { timeout: 5000 });
  const seconds = (t: string | null) => t!.split(':').reduce((m, s) => m * 60 + Number(s), 0);
  expect(seconds(await countdown.textContent())).toBeLessThan(seconds(first));

  // The button calls the protected JSON API, which calls the IdP's UserInfo endpoint with the access token.
  await page.click('#call-api');
  await page.waitForFunction(() => document.getElementById('api-result')?.textContent?.startsWith('HTTP '));
  const result = (await page.locator('#api-result').textContent())!;
  expect(result).toMatch(/^HTTP 200\n/);
  const answer = JSON.parse(result.slice(result.indexOf('\n') + 1));
  expect(answer.userinfo).toMatchObject({ sub: 'alice', email: 'alice@example.com' });

  // The callback was hit exactly once, with a code, and answered with a no-store, no-referrer redirect...
  expect(callbacks).toHaveLength(1);
  expect(new URL(callbacks[0]!.url).searchParams.get('code')).toBeTruthy();
  expect(callbacks[0]!.status).toBe(302);
  expect(callbacks[0]!.headers['cache-control']).toContain('no-store');
  expect(callbacks[0]!.headers['referrer-policy']).toBe('no-referrer');
  // ...so the address bar never showed the code, and the history holds no callback entry.
  expect(committed.length).toBeGreaterThanOrEqual(3);
  for (const url of [...committed, ...(await historyUrls(page))]) {
    expect(url).not.toContain('code=');
    expect(url).not.toContain('/callback');
  }

  // The session cookie is an opaque, HttpOnly, SameSite=Lax id.
  const cookie = (await context.cookies(app.url)).find((c) => c.name === app.sessionCookie)!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  expect(cookie.value.length).toBeLessThan(120);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'profile.png'), fullPage: true });
  await context.close();
});

test('Back after login does not replay the callback into an error loop; Forward returns to the profile', async () => {
  const context = await browser.newContext();
  const { page, committed, callbacks } = await watchedPage(context);
  await logInFromHome(page, 'bob');
  await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Bob Example');

  // Walk all the way back through the history, then all the way forward again.
  const history = await historyUrls(page);
  for (let i = 1; i < history.length; i++) {
    await page.goBack({ waitUntil: 'load' });
    expect(page.url()).not.toContain('code=');
    await expect(page.locator('body').textContent()).resolves.not.toContain('We could not sign you in');
  }
  expect(page.url()).toBe(history[0]);
  for (let i = 1; i < history.length; i++) {
    await page.goForward({ waitUntil: 'load' });
    expect(page.url()).not.toContain('code=');
  }
  await page.reload();

  expect(page.url()).toBe(`${app.url}/profile`);
  await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Bob Example');
  // The one-time code was presented once: no Back, Forward or Reload sent it again.
  expect(callbacks).toHaveLength(1);
  expect(committed.every((url) => !url.includes('code='))).toBe(true);
  await context.close();
});

test('two tabs of one browser log in at once and both end up on the profile', async () => {
  const context = await browser.newContext();
  const tab1 = await watchedPage(context);
  const tab2 = await watchedPage(context);
  // Both tabs start a login (one after the other, as a person opens tabs) before either finishes: two pending
  // logins, keyed by state, in one session.
  await tab1.page.goto(`${app.url}/profile`);
  await tab2.page.goto(`${app.url}/profile`);
  for (const { page } of [tab1, tab2]) expect(page.url()).toContain(`${app.issuer}/interaction/`);

  await signInAtIdp(tab1.page);
  await signInAtIdp(tab2.page);

  for (const { page, callbacks } of [tab1, tab2]) {
    expect(page.url()).toBe(`${app.url}/profile`);
    await page.reload();
    await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Alice Example');
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.status).toBe(302);
  }
  await context.close();
});

/** Every request the browser context made (any page, any site): URL, method, body, and the answer's status. */
function recordRequests(context: BrowserContext): Array<{ url: string; method: string; body: string | null; status?: number; location?: string }> {
  const seen: Array<{ url: string; method: string; body: string | null; status?: number; location?: string }> = [];
  context.on('request', (request) => {
    seen.push({ url: request.url(), method: request.method(), body: request.postData() });
  });
  context.on('response', (response) => {
    const entry = seen.findLast((r) => r.url === response.url() && r.status === undefined);
    if (entry) {
      entry.status = response.status();
      const location = response.headers().location;
      if (location) entry.location = location;
    }
  });
  return seen;
}

/** Signs out at the demo IdP's "Sign out?" page and waits to be back on the app. */
async function confirmAtIdp(page: Page): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(app.issuer));
  await page.click('button:has-text("Yes, sign me out")');
  await page.waitForURL((url) => url.href.startsWith(app.url) && !url.pathname.startsWith('/logout'));
}

test('logout ends the app session and the IdP session; no URL the browser saw carried a token; the state came back', async () => {
  const context = await browser.newContext();
  const requests = recordRequests(context);
  const { page } = await watchedPage(context);
  await logInFromHome(page);
  await expect(fetchApi(page)).resolves.toMatchObject({ status: 200, body: { userinfo: { sub: 'alice' } } });
  const before = (await context.cookies(app.url)).find((c) => c.name === app.sessionCookie)!;

  await page.click('header button:has-text("Log out")');
  // RP-initiated logout: the app's page posts the end-session request, the IdP asks, then sends the browser back.
  await confirmAtIdp(page);
  expect(page.url()).toBe(`${app.url}/`);
  await expect(page.locator('main a:has-text("Log in")').count()).resolves.toBe(1);

  // The end-session request was a POST with the ID token in its body; its URL is the bare endpoint.
  const metadata = (await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
  const endSession = requests.filter((r) => r.url.split('?')[0] === metadata.end_session_endpoint);
  expect(endSession.map((r) => [r.method, r.url])).toEqual([['POST', metadata.end_session_endpoint]]);
  const form = new URLSearchParams(endSession[0]!.body!);
  expect(form.get('id_token_hint')).toMatch(/^eyJ/);
  // Not one URL of the whole run (app, IdP, any page) carried a token or a hint.
  expect(requests.length).toBeGreaterThan(10);
  for (const { url } of requests) {
    expect(url).not.toContain('id_token_hint');
    expect(url).not.toContain('eyJ');
    expect(url).not.toContain(form.get('id_token_hint')!);
  }
  // The IdP sent the browser back with the state the app sent, and the app accepted it (302 home).
  const back = requests.filter((r) => r.url.startsWith(`${app.url}/logout?state=`));
  expect(back).toHaveLength(1);
  expect(new URL(back[0]!.url).searchParams.get('state')).toBe(form.get('state'));
  expect(back[0]!.status).toBe(302);

  // The app session is gone on the server, not only in this browser: the old cookie no longer works.
  await expect(fetchApi(page)).resolves.toEqual({
    status: 401,
    body: { error: 'unauthenticated', message: expect.any(String) },
  });
  const replay = await fetch(`${app.url}/api/userinfo`, {
    headers: { Accept: 'application/json', Cookie: `${before.name}=${before.value}` },
    redirect: 'manual',
  });
  expect(replay.status).toBe(401);
  const profile = await fetch(`${app.url}/profile`, { headers: { Accept: 'text/html', Cookie: `${before.name}=${before.value}` }, redirect: 'manual' });
  expect(profile.status).toBe(302);
  expect(profile.headers.get('location')).toMatch(/^\/login\?returnTo=/);

  // The IdP session is gone too: the protected page asks for the password again instead of signing in silently.
  await page.goto(`${app.url}/profile`);
  expect(page.url()).toContain(`${app.issuer}/interaction/`);
  await expect(page.locator('#password').count()).resolves.toBe(1);
  await context.close();
});

test('without JavaScript: a GET of /logout shows the confirmation page, whose button (then Continue) ends both sessions', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const { page } = await watchedPage(context);
  await page.goto(`${app.url}/profile`);
  await signInAtIdp(page);

  // A plain visit of /logout (a bookmark, a link from anywhere) ends nothing by itself.
  const confirmation = await page.goto(`${app.url}/logout`);
  expect(confirmation!.status()).toBe(200);
  expect(confirmation!.headers()['content-security-policy']).toMatch(/style-src 'nonce-[^']+'/);
  await expect(page.locator('h1').textContent()).resolves.toBe('Sign out?');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'logout-confirmation.png'), fullPage: true });
  await page.goto(`${app.url}/profile`);
  await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Alice Example');

  await page.goto(`${app.url}/logout`);
  await page.click('button:has-text("Sign out")');
  // No script ran: the end-session form waits for its Continue button.
  await expect(page.locator('h1').textContent()).resolves.toBe('Signing you out…');
  await page.click('button:has-text("Continue")');
  await confirmAtIdp(page);
  expect(page.url()).toBe(`${app.url}/`);
  await page.goto(`${app.url}/profile`);
  expect(page.url()).toContain(`${app.issuer}/interaction/`);
  await context.close();
});

test('the one-click link on the profile page (logoutUrl) logs out without a confirmation page', async () => {
  const context = await browser.newContext();
  const { page } = await watchedPage(context);
  await logInFromHome(page, 'bob');
  await expect(page.locator('#logout-link').getAttribute('href')).resolves.toMatch(/^\/logout\?confirm=[\w-]{43}$/);
  await page.click('#logout-link');
  await confirmAtIdp(page);
  expect(page.url()).toBe(`${app.url}/`);
  await expect(fetchApi(page)).resolves.toMatchObject({ status: 401 });
  await context.close();
});

test('"Your sessions": two browsers of one user are listed; ending the other one signs it out; another site cannot end one', async () => {
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const { page } = await watchedPage(laptop);
  const { page: other } = await watchedPage(phone);
  await logInFromHome(page, 'bob');
  await page.click('nav a:has-text("Your sessions")');
  await page.waitForURL(`${app.url}/sessions`);
  const rows = page.locator('#sessions tbody tr');
  // Earlier tests may have left sessions of this user: count from here.
  const before = await rows.count();
  await logInFromHome(other, 'bob');
  await other.goto(`${app.url}/sessions`);
  const phoneHandle = await other.locator('#sessions tr.current input[name="handle"]').getAttribute('value');
  await page.reload();
  await expect(rows.count()).resolves.toBe(before + 1);
  await expect(page.locator('#sessions tr.current').count()).resolves.toBe(1);
  await expect(page.locator(`#sessions tr:not(.current) input[name="handle"][value="${phoneHandle}"]`).count()).resolves.toBe(1);
  // The page shows no logout token: its forms carry the derived form token only.
  const html = await page.content();
  expect(html).not.toMatch(/confirm=/);
  // A POST without this session's form token (what another site's forged form sends) ends nothing.
  const forged = await other.evaluate(async (base) => {
    const res = await fetch(`${base}/sessions/end`, { method: 'POST', body: new URLSearchParams({ all: 'others' }), redirect: 'manual' });
    return res.status;
  }, app.url);
  expect(forged).toBe(403);
  await expect(fetchApi(page)).resolves.toMatchObject({ status: 200 });
  // End the other browser's session from this one: it is signed out at its next request.
  await page.click(`#sessions tr:has(input[name="handle"][value="${phoneHandle}"]) button`);
  await page.waitForURL(`${app.url}/sessions`);
  await expect(rows.count()).resolves.toBe(before);
  await expect(fetchApi(other)).resolves.toMatchObject({ status: 401 });
  await expect(fetchApi(page)).resolves.toMatchObject({ status: 200 });
  // Log in again on the other browser (its IdP session lives on: no password asked), then "Log out everywhere
  // else" from this one.
  await other.goto(`${app.url}/login?returnTo=%2Fprofile`);
  await other.waitForURL((url) => url.href.startsWith(`${app.url}/profile`) || url.href.startsWith(`${app.issuer}/interaction/`));
  if (other.url().startsWith(`${app.issuer}/interaction/`)) {
    if (await other.locator('#login').count()) await signInAtIdp(other, 'bob');
    else await other.click('button:has-text("Allow")');
  }
  await other.waitForURL(`${app.url}/profile`);
  await page.goto(`${app.url}/sessions`);
  await expect(rows.count()).resolves.toBe(before + 1);
  await page.click('#end-others');
  await page.waitForURL(`${app.url}/sessions`);
  await expect(rows.count()).resolves.toBe(1);
  await expect(fetchApi(other)).resolves.toMatchObject({ status: 401 });
  await expect(fetchApi(page)).resolves.toMatchObject({ status: 200 });
  await laptop.close();
  await phone.close();
});

test('npm start: signing out at the IdP alone ends the app session too (back-channel logout)', async () => {
  const started = await spawnExampleApp();
  const context = await browser.newContext();
  try {
    const { page } = await watchedPage(context);
    await logInFromHome(page, 'alice', started);
    await expect(fetchApi(page)).resolves.toMatchObject({ status: 200, body: { userinfo: { sub: 'alice' } } });

    // The user signs out at the IdP directly (as from another app), never calling the app's /logout.
    const metadata = (await (await fetch(`${started.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
    await page.goto(metadata.end_session_endpoint);
    await page.click('button:has-text("Yes, sign me out")');
    await page.waitForLoadState('load');
    await expect(page.locator('body').textContent()).resolves.toContain('signed out');

    // The IdP told the app over the back channel: the same browser, with the same cookie, is no longer logged in.
    await page.goto(`${started.url}/`);
    await expect(fetchApi(page)).resolves.toMatchObject({ status: 401, body: { error: 'unauthenticated' } });
    expect(started.output()).not.toContain('backchannel.error');
  } finally {
    await context.close();
    await started.close();
  }
});

test('with REDIS_URL the example app keeps its sessions in Redis', async () => {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const withRedis = await startExampleApp({ port: 0, idpPort: 0, quiet: true, redisUrl: redisServer.url });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${withRedis.url}/profile`);
    await page.waitForURL((url) => url.href.startsWith(`${withRedis.issuer}/interaction/`));
    await page.fill('#login', 'alice');
    await page.fill('#password', DEMO_USERS.alice.password);
    await page.click('button:has-text("Sign in")');
    await page.click('button:has-text("Allow")');
    await page.waitForURL(`${withRedis.url}/profile`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Alice Example');

    // The browser's cookie names a session that lives in Redis, and that session holds the login.
    const cookie = (await context.cookies(withRedis.url)).find((c) => c.name === withRedis.sessionCookie)!;
    const sid = decodeURIComponent(cookie.value).replace(/^s:/, '').split('.')[0];
    const stored = await readStored(redis, sid!, 'example-app:');
    expect(stored).toBeDefined();
    expect(stored!.oauth.user.sub).toBe('alice');
  } finally {
    await context.close();
    await withRedis.close();
    redis.disconnect();
    await redisServer.close();
  }
});
