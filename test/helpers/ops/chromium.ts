/**
 * Debian's Chromium for the interop suites, driven by playwright-core (never a downloaded browser): one browser per
 * test file, a fresh context (cookies, storage) per test, so each test is a new user agent.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** Starts headless Chromium (playwright-core gives it a fresh temporary profile, removed on close). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The interop tests need Chromium at ${CHROMIUM}: run \`npm run setup\` as root or \`apt-get install -y chromium\`.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Main-frame URLs a page committed, and every main-frame navigation it requested (redirects included), in order. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  committed: string[];
  navigations: string[];
}

/** A new context and page; Playwright's own waits fail after 15 s with a precise message, before jest's timeout. */
export async function newPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const watched: WatchedPage = { page, context, committed: [], navigations: [] };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) watched.committed.push(frame.url());
  });
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) watched.navigations.push(request.url());
  });
  return watched;
}

/** GETs a JSON route of the app with the page's cookies (Playwright's request context shares the cookie jar). */
export async function getJson(page: Page, url: string): Promise<{ status: number; body: any }> {
  const res = await page.context().request.get(url, { headers: { accept: 'application/json' }, maxRedirects: 0 });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status(), body };
}
