/**
 * The GitHub stand-in for tests: example-app/github.js (which the example app runs with IDP=github), started on
 * loopback for one app, and a login through its consent page as a user would click it.
 */
import { GITHUB_USERS, type GithubStandIn, startGithubStandIn } from '../../../example-app/github.js';
import { type Browser, type Hop, formAction, hiddenInputs } from '../browser.js';

export const GITHUB_CLIENT_ID = 'Iv1.stand1n0000000000';
export const GITHUB_CLIENT_SECRET = 'github-stand-in-secret-0123456789abcdef0123';

export { GITHUB_USERS, type GithubStandIn };

/** A stand-in that knows `appUrl` + `callbackPath` as its registered callback URL. */
export function startGithub(appUrl: string, options: { expiringTokens?: boolean; callbackPath?: string } = {}): Promise<GithubStandIn> {
  return startGithubStandIn({
    clientId: GITHUB_CLIENT_ID,
    clientSecret: GITHUB_CLIENT_SECRET,
    redirectUris: [`${appUrl}${options.callbackPath ?? '/callback'}`],
    ...(options.expiringTokens && { expiringTokens: true }),
  });
}

/** GET {app}/login, choose `login` on the consent page and Authorize (or Cancel), follow the redirects home. */
export async function loginWithGithub(
  browser: Browser,
  appUrl: string,
  options: { login?: keyof typeof GITHUB_USERS; cancel?: boolean; returnTo?: string; loginPath?: string } = {},
): Promise<Hop[]> {
  const start = `${appUrl}${options.loginPath ?? '/login'}${options.returnTo ? `?returnTo=${encodeURIComponent(options.returnTo)}` : ''}`;
  const hops = await browser.navigate(start);
  const page = hops.at(-1)!;
  if (page.status !== 200 || !page.url.includes('/login/oauth/authorize')) throw new Error(`no consent page: ${page.status} ${page.url}`);
  const form = hiddenInputs(page.body);
  form.set('login', options.login ?? 'octocat');
  form.set('decision', options.cancel ? 'deny' : 'allow');
  return [...hops, ...(await browser.navigate(formAction(page.body, page.url), { method: 'POST', body: form }))];
}
