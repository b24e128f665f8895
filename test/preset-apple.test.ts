/**
 * providers.apple() against a Sign in with Apple stand-in (test/helpers/standins/apple.ts): the ES256 client
 * secret it makes and renews, form_post, and the first-login name from the `user` field.
 */
import { decodeJwt } from 'jose';
import { providers } from '../lib/index.js';
import { appleClientSecret } from '../lib/config/presets/apple.js';
import { buildApp } from './helpers/app.js';
import { Browser, formAction, hiddenInputs } from './helpers/browser.js';
import { type TestServer, startServer } from './helpers/servers.js';
import { APPLE_CLIENT_ID, APPLE_KEY_ID, APPLE_TEAM_ID, type AppleStandin, startAppleStandin } from './helpers/standins/apple.js';

let apple: AppleStandin;
let app: TestServer;

beforeAll(async () => {
  apple = await startAppleStandin();
  app = await startServer();
  buildApp({
    server: app,
    issuer: apple.origin,
    errorHandler: true,
    config: {
      ...providers.apple({ teamId: APPLE_TEAM_ID, keyId: APPLE_KEY_ID, privateKey: apple.p8 }),
      issuer: apple.origin,
      clientId: APPLE_CLIENT_ID,
      clientSecret: undefined,
      allowInsecureRequests: true,
    },
  });
});
afterAll(async () => {
  await app.close();
  await apple.close();
});

/** The form's fields as a browser submits them: HTML character references decoded. */
function formFields(html: string): URLSearchParams {
  const fields = hiddenInputs(html);
  for (const [k, v] of fields) fields.set(k, v.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))));
  return fields;
}

async function signIn(browser: Browser): Promise<Record<string, unknown>> {
  const hops = await browser.navigate(`${app.url}/login`);
  const page = hops.at(-1)!;
  expect(page.status).toBe(200);
  const fields = formFields(page.body);
  const done = await browser.navigate(formAction(page.body, page.url), { method: 'POST', body: fields });
  expect(done[0]!.status).toBe(303);
  const me = await browser.request(`${app.url}/profile`, { headers: { accept: 'application/json' } });
  expect(me.status).toBe(200);
  return JSON.parse(me.body);
}

test('the first login posts form_post with a signed client secret, and keeps the name from the user field', async () => {
  const user = await signIn(new Browser());
  expect(user.claims).toMatchObject({ sub: '001234.0abc1234def5678.1234', email: 'ada@privaterelay.appleid.test', given_name: 'Ada', family_name: 'Lovelace', name: 'Ada Lovelace' });
  const secret = decodeJwt(apple.secrets[0]!);
  expect(secret).toMatchObject({ iss: APPLE_TEAM_ID, sub: APPLE_CLIENT_ID, aud: 'https://appleid.apple.com' });
  expect(secret.exp! - secret.iat!).toBeLessThanOrEqual(15777000);
});

test('a later login has no user field (Apple sends it once); the same client secret is reused', async () => {
  const user = await signIn(new Browser());
  expect(user.claims).not.toHaveProperty('given_name');
  expect(apple.secrets).toHaveLength(2);
  expect(apple.secrets[1]).toBe(apple.secrets[0]);
});

test('the client secret is renewed a day before it expires, and never lives longer than six months', async () => {
  let now = 1_800_000_000;
  const make = appleClientSecret({ teamId: APPLE_TEAM_ID, keyId: APPLE_KEY_ID, privateKey: apple.p8 }, () => now);
  const first = await make(APPLE_CLIENT_ID);
  const { exp, iat } = decodeJwt(first);
  expect(exp! - iat!).toBeLessThanOrEqual(15777000);
  now = exp! - 2 * 24 * 3600;
  expect(await make(APPLE_CLIENT_ID)).toBe(first);
  now = exp! - 3600;
  const renewed = await make(APPLE_CLIENT_ID);
  expect(renewed).not.toBe(first);
  expect(decodeJwt(renewed).iat).toBe(now);
});

test('the user field cannot override the verified identity: sub and email come from the ID token', async () => {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/login`);
  const page = hops.at(-1)!;
  const fields = formFields(page.body);
  fields.set('user', JSON.stringify({ name: { firstName: 'Mallory', lastName: '' }, email: 'mallory@evil.test', sub: 'someone-else' }));
  await browser.navigate(formAction(page.body, page.url), { method: 'POST', body: fields });
  const me = JSON.parse((await browser.request(`${app.url}/profile`, { headers: { accept: 'application/json' } })).body);
  expect(me.sub).toBe('001234.0abc1234def5678.1234');
  expect(me.claims).toMatchObject({ email: 'ada@privaterelay.appleid.test', given_name: 'Mallory', name: 'Mallory' });
});
