/**
 * Several identity providers in one app: `oauthLogin([{ name: 'google', ... }, { name: 'okta', ... }])`, or several
 * `oauthLogin({ name, ... })` mounted one after the other. A named provider gets its own routes
 * (`/login/<name>`, `/callback/<name>`, `/backchannel-logout/<name>`) while `/logout` is shared; the user records
 * which provider they logged in with (`req.user.provider`), so refresh, logout and `requireAuth()` use that one.
 *
 * Mix-up defense (RFC 9700 §4.4): each provider has its own redirect URI, the pending login remembers the issuer
 * it was sent to (checked at the callback), and the RFC 9207 `iss` response parameter is checked by openid-client
 * whenever the IdP advertises it.
 */
import { type RequestHandler, Router } from 'express';
import { type OAuthLoginConfig, resolveConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { type Context, sessionProvider } from './context.js';

/** One provider of `oauthLogin([...])`: a configuration with a unique `name`. @public */
export type ProviderConfig = OAuthLoginConfig & { name: string };

/**
 * Validates the providers together (names present and unique, login and callback routes distinct) and mounts one
 * router per provider, the first being the default that `requireAuth()` sends anonymous browsers to.
 * @throws {ConfigError} listing every problem, each prefixed with the provider it concerns.
 * @private
 */
export function providersRouter(configs: ProviderConfig[], single: (config: ProviderConfig) => Router): Router {
  const problems: string[] = [];
  if (configs.length === 0) problems.push('oauthLogin([...]) needs at least one provider');
  const names = new Set<string>();
  const paths = new Map<string, string>();
  configs.forEach((config, i) => {
    const label = `providers[${i}]${typeof config?.name === 'string' ? ` ("${config.name}")` : ''}`;
    if (typeof config !== 'object' || config === null || typeof config.name !== 'string') {
      problems.push(`${label}: name is required with several providers, e.g. { name: 'google', ... }`);
      return;
    }
    if (names.has(config.name)) problems.push(`${label}: name "${config.name}" is used twice; names must be unique`);
    names.add(config.name);
    try {
      // No environment fallback here: with several providers, which one OAUTH_* means would be a guess.
      const resolved = resolveConfig(config, {});
      for (const path of [resolved.routes.login, resolved.routes.callback]) {
        const other = paths.get(path);
        if (other !== undefined) problems.push(`${label}: route ${path} is also used by provider "${other}"; give each provider its own routes`);
        paths.set(path, config.name);
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.map((p) => `${label}: ${p}`));
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const router = Router();
  for (const config of configs) router.use(single(config));
  return router;
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
