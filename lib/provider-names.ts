/**
 * The per-provider pieces that the rest of the middleware needs without the configuration schema (kept apart to
 * avoid an import cycle with config.ts): valid names, a named provider's default routes, and who owns the session's
 * user. See providers.ts for the multi-provider router.
 */
import type { Request, RequestHandler } from 'express';
import type { Context } from './context.js';

/** Provider names end up in paths and in the session: keep them short and URL-safe. @private */
export const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/i;

/** A named provider's default routes, applied before validation so explicit routes win. @private */
export function applyProviderDefaults(raw: Record<string, unknown>): void {
  const name = raw.name;
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) return;
  const routes = raw.routes === undefined ? {} : raw.routes;
  if (typeof routes !== 'object' || routes === null) return;
  raw.routes = { login: `/login/${name}`, callback: `/callback/${name}`, backchannelLogout: `/backchannel-logout/${name}`, ...routes };
}

/** The provider name of the session's logged-in user, if any. */
function sessionProvider(req: Request): string | undefined {
  return (req as { session?: { oauth?: { user?: { provider?: string } } } }).session?.oauth?.user?.provider;
}

/** True when the session's user logged in through `ctx`'s provider. @private */
export function ownsSessionUser(req: Request, ctx: Context): boolean {
  return ctx.config.name !== undefined && sessionProvider(req) === ctx.config.name;
}

/**
 * In front of a shared route (`/logout`): lets a request through to the provider the user logged in with, by
 * skipping this provider's route when the user belongs to another named one.
 * @private
 */
export function ownUsersOnly(ctx: Context): RequestHandler {
  return (req, _res, next) => {
    const owner = sessionProvider(req);
    next(owner !== undefined && ctx.config.name !== undefined && owner !== ctx.config.name ? 'route' : undefined);
  };
}
