/**
 * What one `oauthLogin()` instance shares with its route handlers and with `requireAuth()`: the validated
 * configuration, the lazily discovered provider and the refresh coordinator. `oauthLogin()` attaches it to each
 * request that passes through it, which is how a bare `requireAuth()` finds its configuration.
 */
import type { Request } from 'express';
import type { ResolvedConfig } from './config.js';
import { SetupError } from './errors.js';
import type { Provider } from './provider.js';
import { ownsSessionUser } from './provider-names.js';
import type { Refresher } from './refresh.js';

/** @private */
export interface Context {
  config: ResolvedConfig;
  provider: Provider;
  refresher: Refresher;
  /** Where to send a browser to log in: the app's base path plus the login route. */
  loginPath: string;
}

const CONTEXT = Symbol.for('express-oauth-login.context');

/**
 * Attaches `ctx` to the request. With several providers (each router attaches its own), the first one mounted is
 * the default and the one the session's user logged in with wins, so `requireAuth()` refreshes at the right IdP.
 * @private
 */
export function attachContext(req: Request, ctx: Context): void {
  const slot = req as unknown as Record<symbol, Context | undefined>;
  const current = slot[CONTEXT];
  if (current && current !== ctx && !ownsSessionUser(req, ctx)) return;
  slot[CONTEXT] = ctx;
}

/** The context of the `oauthLogin()` this request went through, or a SetupError saying how to mount it. @private */
export function contextOf(req: Request): Context {
  const ctx = peekContext(req);
  if (!ctx) {
    throw new SetupError(
      'not_mounted',
      500,
      'requireAuth() found no oauthLogin(): mount app.use(oauthLogin(config)) before the routes it protects.',
    );
  }
  return ctx;
}

/** The context of the `oauthLogin()` this request went through, if any. @private */
export function peekContext(req: Request): Context | undefined {
  return (req as unknown as Record<symbol, Context | undefined>)[CONTEXT];
}
