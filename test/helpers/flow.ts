/** Drives a full login through the real IdP's pages, like a user would. */
import { Browser, type Hop, formAction } from './browser.js';
import { DEMO_USERS } from '../../example-app/idp.js';

export interface LoginResult {
  hops: Hop[];
  /** The hop that hit the app's callback. */
  callback: Hop;
  final: Hop;
}

/**
 * GET {app}/login (optionally with returnTo), sign in at the IdP as `user`, consent if asked, and follow the
 * redirects back to the app.
 */
export async function login(
  browser: Browser,
  appUrl: string,
  opts: { user?: keyof typeof DEMO_USERS; returnTo?: string; loginPath?: string; stopAtCallback?: boolean } = {},
): Promise<LoginResult> {
  const user = opts.user ?? 'alice';
  const start = `${appUrl}${opts.loginPath ?? '/login'}${opts.returnTo ? `?returnTo=${encodeURIComponent(opts.returnTo)}` : ''}`;
  const hops: Hop[] = [];
  const stopAt = opts.stopAtCallback ? (u: string) => u.startsWith(`${appUrl}/callback`) : undefined;
  hops.push(...(await browser.navigate(start, { ...(stopAt && { stopAt }) })));
  for (let i = 0; i < 4; i++) {
    const last = hops.at(-1)!;
    if (last.location && stopAt?.(last.location)) break;
    if (last.status !== 200 || !last.url.includes('/interaction/')) break;
    const action = formAction(last.body, last.url);
    const body = action.endsWith('/login')
      ? new URLSearchParams({ login: user, password: DEMO_USERS[user].password })
      : new URLSearchParams();
    hops.push(...(await browser.navigate(action, { method: 'POST', body, ...(stopAt && { stopAt }) })));
  }
  const callback = hops.find((h) => h.url.startsWith(`${appUrl}/callback`));
  if (opts.stopAtCallback) {
    const last = hops.at(-1)!;
    return { hops, callback: last, final: last };
  }
  if (!callback) throw new Error(`login never reached the callback: ${hops.map((h) => `${h.status} ${h.url}`).join('\n')}`);
  return { hops, callback, final: hops.at(-1)! };
}

export { Browser };
