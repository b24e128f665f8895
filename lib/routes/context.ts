/**
 * What one `oauthLogin()` instance shares with its route handlers and with `requireAuth()`: the validated
 * configuration and the lazily discovered provider. The router binds its configuration to each request that
 * passes through it (config/request.ts), which is how a bare `requireAuth()` finds its context.
 */
import type { Request } from 'express';
import type { Store } from 'express-session';
import { bindConfig, boundConfig } from '../config/request.js';
import type { ResolvedConfig } from '../config/schema.js';
import { SetupError } from '../errors.js';
import type { Provider } from '../idp/provider.js';

/** @private */
export interface Context {
  config: ResolvedConfig;
  provider: Provider;
}

const contexts = new WeakMap<ResolvedConfig, Context>();
/** Every `oauthLogin()` instance of the process, with the session stores its requests came with (admin code). */
const stores = new Map<Context, Set<Store>>();

/** Makes `ctx` findable from its configuration (called once per `oauthLogin()`). @private */
export function registerContext(ctx: Context): void {
  contexts.set(ctx.config, ctx);
  stores.set(ctx, new Set());
}

/**
 * Forgets `ctx` (a provider resolved per request that left its cache): the registry must not keep every
 * configuration a resolver ever returned. @private
 */
export function unregisterContext(ctx: Context): void {
  stores.delete(ctx);
}

/**
 * Each `oauthLogin()` instance with the session stores its requests used: what endSessions() works on when no
 * request is at hand (session-control.ts).
 * @private
 */
export function registeredContexts(): Array<[Context, Set<Store>]> {
  return [...stores];
}

/**
 * The provider name of the session's logged-in user, or of the logout waiting for its IdP's answer (no session:
 * none). @private
 */
export function sessionProvider(req: Request): string | undefined {
  const oauth = (req as { session?: { oauth?: { user?: { provider?: string }; logout?: { provider?: string } } } }).session?.oauth;
  return oauth?.user?.provider ?? oauth?.logout?.provider;
}

/** True when the session's user logged in through `ctx`'s provider. @private */
export function ownsSessionUser(req: Request, ctx: Context): boolean {
  return ctx.config.name !== undefined && sessionProvider(req) === ctx.config.name;
}

/**
 * Binds `ctx` to the request. With several providers (each router binds its own), the first one mounted is the
 * default and the one the session's user logged in with wins, so `requireAuth()` refreshes at the right IdP.
 * @private
 */
export function attachContext(req: Request, ctx: Context): void {
  const current = boundConfig(req);
  const store = (req as { sessionStore?: Store }).sessionStore;
  if (store) stores.get(ctx)?.add(store);
  if (current && current !== ctx.config && !ownsSessionUser(req, ctx)) return;
  bindConfig(req, ctx.config);
}

/** The context of the `oauthLogin()` this request went through, if any. @private */
export function peekContext(req: Request): Context | undefined {
  const config = boundConfig(req);
  return config && contexts.get(config);
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
