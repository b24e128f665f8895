/**
 * The demo IdP (example-app/idp.js) looks accounts up in a Map (issue 11 point 8): with its `users` option set, a
 * login name such as `constructor` or `__proto__` finds no account, with or without a password, while the demo
 * users and the extra accounts sign in as before.
 */
import { startAppWithIdp } from './helpers/app.js';
import { Browser, formAction } from './helpers/browser.js';
import { login, signInAtIdp } from './helpers/flow.js';
import type { TestServer } from './helpers/servers.js';

let app: TestServer;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ app, close } = await startAppWithIdp({ users: { carol: { password: 'carol-password', claims: { name: 'Carol' } } } }));
});
afterAll(() => close());

const me = (browser: Browser) => browser.request(`${app.url}/api/me`, { headers: { accept: 'application/json' } });

/** Starts a login and posts the IdP's login form with exactly `fields` (a missing password stays missing). */
async function postLoginForm(fields: Record<string, string>) {
  const browser = new Browser();
  const hops = await browser.navigate(`${app.url}/login`);
  const page = hops.at(-1)!;
  const action = formAction(page.body, page.url);
  const answer = await browser.navigate(action, { method: 'POST', body: new URLSearchParams(fields) });
  return { browser, answer: answer.at(-1)! };
}

test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('the login name %s is refused, with no password or an empty one', async (name) => {
  const forms: Array<Record<string, string>> = [{ login: name }, { login: name, password: '' }, { login: name, password: 'undefined' }];
  for (const fields of forms) {
    const { browser, answer } = await postLoginForm(fields);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatch(/Wrong username or password/);
    expect((await me(browser)).status).toBe(401);
  }
});

test('a demo user without a password is refused too', async () => {
  const { answer } = await postLoginForm({ login: 'alice' });
  expect(answer.status).toBe(401);
});

test('demo users and the extra accounts still sign in', async () => {
  const alice = new Browser();
  await login(alice, app.url);
  expect(JSON.parse((await me(alice)).body).sub).toBe('alice');
  const carol = new Browser();
  const first = await carol.navigate(`${app.url}/login`);
  await signInAtIdp(carol, first, { user: 'carol', password: 'carol-password' });
  expect(JSON.parse((await me(carol)).body).sub).toBe('carol');
});
