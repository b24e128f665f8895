/**
 * Issue 14, form_post with a SameSite=Lax session cookie in a real browser (Debian's Chromium driven by
 * playwright-core, never a downloaded one). The app runs as http://app.test:<port> (Chromium maps the name to
 * loopback) and the IdP at http://127.0.0.1:<port>: two sites, so the IdP's auto-submitted POST to the callback is
 * cross-site and Chromium does not send the Lax cookie with it. The callback's relay page re-posts the response
 * same-site, with the cookie, and the login completes: with JavaScript at once, without it by a button.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { DEMO_USERS } from '../example-app/idp.js';
import { SESSION_COOKIE, buildApp } from './helpers/app.js';
import { type TestIdp, startTestIdp } from './helpers/idp.js';
import { type TestServer, startServer } from './helpers/servers.js';

const CHROMIUM = '/usr/bin/chromium';

let browser: Browser;
let server: TestServer;
let idp: TestIdp;
let appUrl: string;
/** Every request that reached the app's callback: method and whether it carried the session cookie. */
const callbacks: Array<{ method: string; cookie: boolean }> = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`This test needs Chromium at ${CHROMIUM}: run \`npm run setup\` as root or \`apt-get install -y chromium\`.`);
  server = await startServer();
  appUrl = `http://app.test:${server.port}`;
  idp = await startTestIdp({ appBases: [appUrl] });
  // The test app's session cookie is SameSite=Lax (test/helpers/app.ts), as oauthSession()'s is.
  const app = buildApp({ server, issuer: idp.issuer, config: { baseURL: appUrl, responseMode: 'form_post' } });
  server.handle((req: IncomingMessage, res) => {
    if (req.url?.startsWith('/callback')) callbacks.push({ method: req.method ?? '', cookie: (req.headers.cookie ?? '').includes(`${SESSION_COOKIE}=`) });
    app(req, res);
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--host-resolver-rules=MAP app.test 127.0.0.1',
    ],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await idp?.close();
});

async function signIn(context: BrowserContext, javaScript: boolean): Promise<{ body: string; cspViolations: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(`${appUrl}/login?returnTo=%2Fprofile`);
  await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/interaction/`));
  await page.fill('#login', 'alice');
  await page.fill('#password', DEMO_USERS.alice.password);
  await page.click('button:has-text("Sign in")');
  if (!javaScript) {
    // The IdP's form_post page, then the app's relay page: each a form with a Continue button.
    await page.waitForURL((url) => url.href.startsWith(idp.issuer) && !url.pathname.startsWith('/interaction/'));
    await page.click('button:has-text("Continue")');
    await page.waitForURL(`${appUrl}/callback`);
    expect(await page.title()).toBe('Signing you in');
    await page.click('button:has-text("Continue")');
  }
  await page.waitForURL(`${appUrl}/profile`);
  return { body: (await page.locator('body').textContent()) ?? '', cspViolations };
}

test('the IdP\'s cross-site POST arrives without the Lax cookie; the relay re-posts it with the cookie and the login completes', async () => {
  const context = await browser.newContext();
  callbacks.length = 0;
  const { body, cspViolations } = await signIn(context, true);
  expect(JSON.parse(body).sub).toBe('alice');
  // First the IdP's POST (cross-site: no cookie), then the relay's POST (same-site: the cookie), nothing else.
  expect(callbacks).toEqual([
    { method: 'POST', cookie: false },
    { method: 'POST', cookie: true },
  ]);
  // The relay's script ran under its nonce: the CSP blocked nothing.
  expect(cspViolations).toEqual([]);
  const cookie = (await context.cookies(appUrl)).find((c) => c.name === SESSION_COOKIE)!;
  expect(cookie).toMatchObject({ sameSite: 'Lax', httpOnly: true });
  await context.close();
});

test('without JavaScript the relay page\'s button does the same', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  callbacks.length = 0;
  const { body } = await signIn(context, false);
  expect(JSON.parse(body).sub).toBe('alice');
  expect(callbacks).toEqual([
    { method: 'POST', cookie: false },
    { method: 'POST', cookie: true },
  ]);
  await context.close();
});
