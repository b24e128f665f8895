/**
 * Named providers in the configuration: what a valid name is, and the routes a named provider gets by default
 * (`/login/<name>`, `/callback/<name>`, `/backchannel-logout/<name>`). routes/providers.ts mounts them.
 */

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
