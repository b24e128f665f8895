/** Behaviour 3: returnTo is only ever a same-origin relative path; everything else falls back to the home page. */
import { startAppWithIdp } from './helpers/app.js';
import { Browser } from './helpers/browser.js';
import { login } from './helpers/flow.js';
import type { TestServer } from './helpers/servers.js';
import { safeReturnTo } from '../lib/routes/return-to.js';

describe('safeReturnTo', () => {
  test.each([
    ['/profile', '/profile'],
    ['/a/b?x=1&y=2', '/a/b?x=1&y=2'],
    ['/search?q=%2F%2Fnot-a-host', '/search?q=%2F%2Fnot-a-host'],
    ['/page#section', '/page#section'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  test.each([
    'https://evil.example/',
    'http://evil.example',
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/%2F%2Fevil.example',
    '/%2f%2fevil.example',
    '/%5Cevil.example',
    '/%252F%252Fevil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r/evil.example',
    ' /x',
    '/.//evil.example',
    '/./\\evil.example',
    '/./%2F',
    '/./%2F%2Fevil.example',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'evil.example',
    '',
    '/%',
    `/${'a'.repeat(3000)}`,
  ])('refuses %j', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });

  test('refuses non-strings (repeated or nested query parameters)', () => {
    expect(safeReturnTo(['/a', '/b'])).toBe('/');
    expect(safeReturnTo({ x: '/a' })).toBe('/');
    expect(safeReturnTo(undefined)).toBe('/');
  });

  test('stays under the base path when the app is mounted below the origin root', () => {
    expect(safeReturnTo('/app/x', '/app')).toBe('/app/x');
    expect(safeReturnTo('/other', '/app')).toBe('/app/');
    expect(safeReturnTo('/app/../other', '/app')).toBe('/app/');
    expect(safeReturnTo('/application', '/app')).toBe('/app/');
  });
});

describe('returnTo through a real login', () => {
  let app: TestServer;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, close } = await startAppWithIdp());
  });
  afterAll(() => close());

  test.each(['https://evil.example/steal', '//evil.example', '/\\evil.example', '/%2F%2Fevil.example'])(
    'an open-redirect attempt (%s) lands on the home page of the app',
    async (returnTo) => {
      const { callback, final } = await login(new Browser(), app.url, { returnTo });
      expect(callback.location).toBe(`${app.url}/`);
      expect(new URL(final.url).origin).toBe(app.url);
    },
  );

  test('an unauthenticated visit comes back to the page it asked for, query included', async () => {
    const browser = new Browser();
    const hops = await browser.navigate(`${app.url}/profile?tab=security&x=1`, { stopAt: (u) => !u.startsWith(app.url) });
    expect(hops[0]!.status).toBe(302);
    expect(hops[0]!.location).toBe(`${app.url}/login?returnTo=${encodeURIComponent('/profile?tab=security&x=1')}`);
    const { final } = await login(browser, app.url, { returnTo: '/profile?tab=security&x=1' });
    expect(final.url).toBe(`${app.url}/profile?tab=security&x=1`);
    expect(final.status).toBe(200);
  });
});
