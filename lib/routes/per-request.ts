/**
 * A provider per request (README "A provider per request"): `oauthLogin({ resolveProvider, baseURL, ... })` for
 * apps whose customers each bring their own IdP. The resolver is asked at `/login` (by a `tenant` parameter, the
 * host name, a database row...) and returns a provider configuration with a `name`, or `undefined` (404
 * `provider_unknown`); a resolver that throws answers 503 `provider_unavailable`.
 *
 * What keeps it safe and cheap:
 * - each returned configuration is validated once and cached (lru-cache) per name, issuer and client, with its
 *   lazily discovered IdP, like a static provider; a changed configuration is validated again;
 * - the pending login remembers the provider's name and issuer, so the callback finds its provider from the login
 *   it completes, never by asking the resolver whose code it is; the user records the name too (`req.user.provider`),
 *   so refresh, logout and `requireAuth()` use the IdP the user logged in with;
 * - on an instance that has not seen that name (several instances, or after eviction), the resolver is asked again,
 *   by name only: `resolveProvider(req, { provider: name })`. The callback still refuses a response when the
 *   provider's issuer is no longer the one the login was sent to (mix-up defense, callback.ts).
 * Shared by every provider: `baseURL` and `routes` (one `/login`, `/callback`, `/logout`), and whatever else the
 * base sets, which each resolved configuration may override.
 */
import express, { type Request, type RequestHandler, Router } from 'express';
import { LRUCache } from 'lru-cache';
import { isFormPostMode, isJwtResponseMode } from '../config/client-security.js';
import { type OAuthLoginConfig, type ResolvedConfig, resolveConfig } from '../config/schema.js';
import { ConfigError, IdpUnavailableError, LoginStateError, ProviderResolutionError, passError } from '../errors.js';
import { attachEvents } from '../events.js';
import { createProvider } from '../idp/provider.js';
import { regenerateSession } from '../session/persistence.js';
import { noteSessionLoaded } from '../session/serialized-update.js';
import { peekPendingLogin, sessionOf } from '../session/state.js';
import { callbackHandler } from './callback.js';
import { type Context, attachContext, peekContext, registerContext, sessionProvider, unregisterContext } from './context.js';
import { routeErrorHandler } from './error-page.js';
import { formPostRelay } from './form-post-relay.js';
import { startLogin } from './login.js';
import { logoutGetHandler, logoutPostHandlers } from './logout.js';
import { exposeLogoutUrl } from './logout-url.js';
import type { ProviderConfig } from './providers.js';
import { CALLBACK_HEADERS, responseSearch } from './response-mode.js';
import { safeReturnTo } from './return-to.js';

/**
 * Finds the provider of a request: at `/login` with the request alone; for a session whose provider this instance
 * has not cached, with `{ provider: name }`, the `name` a configuration returned earlier. `undefined`: none.
 * @public
 */
export type ResolveProvider = (req: Request, known?: { provider: string }) => Promise<ProviderConfig | undefined> | ProviderConfig | undefined;

/** `oauthLogin({ resolveProvider, ... })`: the resolver and the settings every resolved provider shares. @public */
export type PerRequestConfig = Partial<OAuthLoginConfig> & { resolveProvider: ResolveProvider };

/** Stands in for the IdP until a provider is resolved: anonymous requests need the routes, never an IdP. */
const PLACEHOLDER = { issuer: 'https://provider-per-request.invalid', clientId: 'provider-per-request', clientSecret: 'unused' };

/** Options only the base may set: they decide the routes every provider shares. */
const BASE_ONLY = ['baseURL', 'routes'] as const;

/** How many resolved providers an instance keeps validated and discovered. */
const MAX_PROVIDERS = 500;

/** True when `config` is the per-request form of oauthLogin()'s argument. @private */
export function isPerRequest(config: unknown): config is PerRequestConfig {
  return typeof config === 'object' && config !== null && 'resolveProvider' in config;
}

/** Same configuration: the same fields with the same values (objects compared by their JSON). */
function sameInput(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    if (a[k] === b[k]) return true;
    if (typeof a[k] !== 'object' || typeof b[k] !== 'object' || a[k] === null || b[k] === null) return false;
    try {
      return JSON.stringify(a[k]) === JSON.stringify(b[k]);
    } catch {
      return false;
    }
  });
}

function problemsOf(resolved: ProviderConfig, config: ResolvedConfig): string[] {
  const problems: string[] = [];
  for (const field of BASE_ONLY) if (resolved[field] !== undefined) problems.push(`${field} is shared by every provider: set it next to resolveProvider, not in what it returns`);
  if (config.backchannelLogout) problems.push('backchannelLogout is not supported with resolveProvider yet');
  if (isJwtResponseMode(config.responseMode)) problems.push(`responseMode "${config.responseMode}" (JARM) is not supported with resolveProvider yet`);
  return problems;
}

/**
 * Creates the router of `oauthLogin({ resolveProvider, ... })`.
 * @throws {ConfigError} when the shared settings are invalid.
 * @private
 */
export function perRequestRouter(input: PerRequestConfig): Router {
  const { resolveProvider, ...shared } = input;
  if (typeof resolveProvider !== 'function') throw new ConfigError(['resolveProvider must be a function (req) => provider configuration | undefined']);
  if (shared.backchannelLogout) throw new ConfigError(['backchannelLogout is not supported with resolveProvider yet']);
  const base = resolveConfig({ ...PLACEHOLDER, ...shared });
  const baseCtx: Context = {
    config: base,
    provider: {
      get: () => Promise.reject(new IdpUnavailableError('idp_unavailable', 503, 'No identity provider was resolved for this request.')),
      keys: () => Promise.reject(new IdpUnavailableError('idp_unavailable', 503, 'No identity provider was resolved for this request.')),
    },
  };
  registerContext(baseCtx);
  // A configuration that leaves the cache (evicted, or replaced by a changed one) leaves the registry of contexts
  // too, so a resolver with many tenants costs at most MAX_PROVIDERS of them.
  const cache = new LRUCache<string, { input: ProviderConfig; ctx: Context }>({ max: MAX_PROVIDERS, dispose: (value) => unregisterContext(value.ctx) });
  const names = new LRUCache<string, string>({ max: MAX_PROVIDERS });

  /** The validated, cached context of a resolved configuration. */
  function contextFor(resolved: ProviderConfig): Context {
    if (typeof resolved !== 'object' || resolved === null || typeof resolved.name !== 'string') {
      throw new ConfigError(['resolveProvider must return a configuration with a name (or undefined)']);
    }
    const key = `${resolved.name}\n${String(resolved.issuer)}\n${String(resolved.clientId)}`;
    const hit = cache.get(key);
    if (hit && sameInput(hit.input, resolved)) return hit.ctx;
    const config = resolveConfig({ ...shared, ...resolved, routes: base.routes, baseURL: base.baseURL }, {});
    const problems = problemsOf(resolved, config);
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `provider "${resolved.name}": ${p}`));
    const ctx: Context = { config, provider: createProvider(config) };
    registerContext(ctx);
    cache.set(key, { input: { ...resolved }, ctx });
    names.set(resolved.name, key);
    return ctx;
  }

  async function resolve(req: Request, known?: { provider: string }): Promise<ProviderConfig | undefined> {
    try {
      return await (known ? resolveProvider(req, known) : resolveProvider(req));
    } catch (err) {
      throw new ProviderResolutionError('provider_unavailable', { cause: err });
    }
  }

  /** The context of a provider remembered by name (session user, pending login or logout). */
  async function contextNamed(req: Request, name: string): Promise<Context | undefined> {
    const key = names.get(name);
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit) return hit.ctx;
    const resolved = await resolve(req, { provider: name });
    return resolved?.name === name ? contextFor(resolved) : undefined;
  }

  const router = Router();
  router.use(async (req, res, next) => {
    try {
      noteSessionLoaded(req);
      exposeLogoutUrl(req, res);
      const name = sessionProvider(req);
      const ctx = name === undefined ? undefined : await contextNamed(req, name);
      // The session's provider is gone (resolver: undefined): its login cannot be refreshed or ended there.
      if (name !== undefined && !ctx) await regenerateSession(req);
      attachContext(req, ctx ?? baseCtx);
      attachEvents(req, (ctx ?? baseCtx).config.events);
      next();
    } catch (err) {
      passError(req, next, err);
    }
  });
  router.get(base.routes.login, async (req, res, next) => {
    try {
      const resolved = await resolve(req);
      if (resolved === undefined) throw new ProviderResolutionError('provider_unknown');
      const ctx = contextFor(resolved);
      attachEvents(req, ctx.config.events);
      await startLogin(ctx, req, res, { returnTo: safeReturnTo(req.query.returnTo, base.basePath) });
    } catch (err) {
      passError(req, next, err);
    }
  });
  const callbacks = new WeakMap<Context, RequestHandler>();
  const callback: RequestHandler = async (req, res, next) => {
    res.set(CALLBACK_HEADERS);
    try {
      const state = new URLSearchParams(responseSearch(req)).get('state');
      const pending = state === null ? undefined : peekPendingLogin(sessionOf(req), state);
      // No login to complete: the callback handler says why (no state, unknown state) without any provider.
      const ctx = pending?.provider === undefined ? baseCtx : await contextNamed(req, pending.provider);
      if (!ctx) throw new ProviderResolutionError('provider_unknown');
      if (ctx !== baseCtx && isFormPostMode(ctx.config.responseMode) !== (req.method === 'POST')) {
        throw new LoginStateError('callback_invalid', 400, `This sign-in response arrived as a ${req.method}, which its provider does not answer with. Start again.`);
      }
      attachEvents(req, ctx.config.events);
      let handler = callbacks.get(ctx);
      if (!handler) callbacks.set(ctx, (handler = callbackHandler(ctx)));
      await handler(req, res, next);
    } catch (err) {
      passError(req, next, err);
    }
  };
  router.get(base.routes.callback, callback);
  router.post(base.routes.callback, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), formPostRelay(baseCtx), callback);
  // The user's provider, bound above (or the base for anonymous requests, which end no IdP session).
  const gets = new WeakMap<Context, RequestHandler>();
  const posts = new WeakMap<Context, RequestHandler[]>();
  router.get(base.routes.logout, (req, res, next) => {
    const ctx = peekContext(req) ?? baseCtx;
    let handler = gets.get(ctx);
    if (!handler) gets.set(ctx, (handler = logoutGetHandler(ctx)));
    void handler(req, res, next);
  });
  router.post(base.routes.logout, (req, res, next) => {
    const ctx = peekContext(req) ?? baseCtx;
    let handlers = posts.get(ctx);
    if (!handlers) posts.set(ctx, (handlers = logoutPostHandlers(ctx)));
    const [parse, handle] = handlers as [RequestHandler, RequestHandler];
    void parse(req, res, (err?: unknown) => (err ? next(err) : void handle(req, res, next)));
  });
  router.use(routeErrorHandler(base));
  return router;
}
