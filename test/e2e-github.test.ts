/**
 * The example app switched to a second provider with one environment variable: `IDP=github` starts the GitHub
 * stand-in (example-app/github.js) and logs in through providers.github(), plain OAuth 2.0. A real browser
 * (Debian's Chromium via playwright-core) clicks through the stand-in's consent page.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { type ExampleApp, optionsFromEnv, startExampleApp } from '../example-app/server.js';

const CHROMIUM = '/usr/bin/chromium';
let browser: Browser;
let app: ExampleApp;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`End-to-end tests need Chromium at ${CHROMIUM}: run \`npm run setup\` as root or \`apt-get install -y chromium\`.`);
  app = await startExampleApp({ ...optionsFromEnv({ IDP: 'github', PORT: '0', IDP_PORT: '0' }), quiet: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

test('IDP=github is the one switch; anything else is refused with a message', () => {
  expect(optionsFromEnv({ IDP: 'github' }).idp).toBe('github');
  expect(optionsFromEnv({}).idp).toBeUndefined();
  expect(() => optionsFromEnv({ IDP: 'gitbub' })).toThrow(/IDP must be "github"/);
  expect(app.github).toBe(true);
  expect(app.embeddedIdp).toBe(true);
});

test('log in with the GitHub stand-in: consent page, back to the profile with the numeric id and the verified e-mail, then log out', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(app.url);
  await page.getByText('GitHub, played by a local stand-in').waitFor();
  await page.click('a.button[href^="/login"]');
  await page.waitForURL(/\/login\/oauth\/authorize/);
  await page.selectOption('select[name=login]', 'octocat');
  await page.click('button[value=allow]');
  await page.waitForURL(`${app.url}/profile`);
  const text = await page.textContent('body');
  expect(text).toContain('The Octocat');
  expect(text).toContain('583231');
  expect(text).toContain('octocat@github.example');
  expect(text).not.toContain('octocat@old.example');
  const api = await page.evaluate(async () => (await fetch('/api/userinfo')).json());
  expect(api.userinfo).toMatchObject({ login: 'octocat', id: 583231 });
  await page.click('form[action="/logout"] button');
  await page.waitForURL(`${app.url}/`);
  const after = await page.evaluate(async () => (await fetch('/api/userinfo')).status);
  expect(after).toBe(401);
  await context.close();
});
