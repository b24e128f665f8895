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
 * Signs in at the IdP's real pages (login form, then consent if asked) starting from `hops`, whose last hop is
 * wherever the browser is now, and follows the redirects onwards.
 */
export async function signInAtIdp(
  browser: Browser,
  hops: Hop[],
  opts: { user?: string; password?: string; cancel?: boolean; otp?: string; stopAt?: (url: string) => boolean } = {},
): Promise<Hop[]> {
  const user = opts.user ?? 'alice';
  const password = opts.password ?? DEMO_USERS[user as keyof typeof DEMO_USERS]?.password ?? '';
  const all = [...hops];
  for (let i = 0; i < 4; i++) {
    const last = all.at(-1)!;
    if (last.location && opts.stopAt?.(last.location)) break;
    if (last.status !== 200 || !last.url.includes('/interaction/')) break;
    const action = opts.cancel
      ? formAction(last.body, last.url, /<form[^>]*action="([^"]+\/abort)"/)
      : formAction(last.body, last.url);
    const body = action.endsWith('/login')
      ? new URLSearchParams({ login: user, password, ...(opts.otp && { otp: opts.otp }) })
      : new URLSearchParams();
    all.push(...(await browser.navigate(action, { method: 'POST', body, ...(opts.stopAt && { stopAt: opts.stopAt }) })));
  }
  return all;
}

/**
 * GET {app}/login (optionally with returnTo), sign in at the IdP as `user`, consent if asked, and follow the
 * redirects back to the app.
 */
export async function login(
  browser: Browser,
  appUrl: string,
  opts: { user?: string; password?: string; returnTo?: string; loginPath?: string; stopAtCallback?: boolean } = {},
): Promise<LoginResult> {
  const start = `${appUrl}${opts.loginPath ?? '/login'}${opts.returnTo ? `?returnTo=${encodeURIComponent(opts.returnTo)}` : ''}`;
  const stopAt = opts.stopAtCallback ? (u: string) => u.startsWith(`${appUrl}/callback`) : undefined;
  const first = await browser.navigate(start, { ...(stopAt && { stopAt }) });
  const hops = await signInAtIdp(browser, first, {
    ...(opts.user && { user: opts.user }),
    ...(opts.password && { password: opts.password }),
    ...(stopAt && { stopAt }),
  });
  if (opts.stopAtCallback) {
    const last = hops.at(-1)!;
    return { hops, callback: last, final: last };
  }
  const callback = hops.find((h) => h.url.startsWith(`${appUrl}/callback`));
  if (!callback) throw new Error(`login never reached the callback: ${hops.map((h) => `${h.status} ${h.url}`).join('\n')}`);
  return { hops, callback, final: hops.at(-1)! };
}

export { Browser };
