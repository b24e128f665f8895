/**
 * The router oauthLogin() returns: a list of small middlewares, one per route, mounted on Express 4 and 5 alike
 * without touching either's internals. Each request that passes through gets this instance's context bound to it
 * (so requireAuth() finds it); errors on these routes end in the router's own error handler (error-page.ts).
 */
import { Router } from 'express';
import { type OAuthLoginConfig, resolveConfig } from '../config/schema.js';
import { attachEvents } from '../events.js';
import { createProvider } from '../idp/provider.js';
import { noteSessionLoaded } from '../session/serialized-update.js';
import { backchannelLogoutHandlers } from './backchannel-logout.js';
import { callbackHandler } from './callback.js';
import { type Context, attachContext, registerContext } from './context.js';
import { routeErrorHandler } from './error-page.js';
import { loginHandler } from './login.js';
import { logoutGetHandler, logoutPostHandlers } from './logout.js';
import { exposeLogoutUrl } from './logout-url.js';
import { type ProviderConfig, ownUsersOnly, providersRouter } from './providers.js';
import { type PerRequestConfig, isPerRequest, perRequestRouter } from './per-request.js';
import { mountCallback } from './response-mode.js';

/**
 * Creates the login router: GET `routes.login`, GET `routes.callback` (POST with form_post), GET/POST
 * `routes.logout` (CSRF-safe: see logout.ts), and with `backchannelLogout: true` POST `routes.backchannelLogout`.
 * Mount it after the session middleware: `app.use(oauthSession(...)); app.use(oauthLogin(config))`.
 *
 * The configuration is validated here, once; discovery happens lazily on the first login, so an IdP that is down
 * at start-up does not stop the app from starting.
 *
 * Several providers: `oauthLogin([{ name: 'google', ... }, { name: 'okta', ... }])` gives each its own routes
 * (`/login/<name>`, `/callback/<name>`) and a shared `/logout`; see providers.ts. A provider per request:
 * `oauthLogin({ resolveProvider: async (req) => config | undefined, baseURL })`; see per-request.ts.
 *
 * @throws {ConfigError} with one line per problem when the configuration is invalid.
 * @public
 */
export function oauthLogin(config?: OAuthLoginConfig | ProviderConfig[] | PerRequestConfig): Router {
  if (Array.isArray(config)) return providersRouter(config, oauthLogin);
  if (isPerRequest(config)) return perRequestRouter(config);
  const resolved = resolveConfig(config);
  if (resolved.allowInsecureRequests) {
    process.emitWarning(
      `allowInsecureRequests is on: tokens travel to ${resolved.issuer} without TLS. Use it for local development and tests only.`,
      { code: 'EXPRESS_OAUTH_LOGIN_INSECURE', type: 'SecurityWarning' },
    );
  }
  const ctx: Context = { config: resolved, provider: createProvider(resolved) };
  registerContext(ctx);
  const router = Router();
  router.use((req, res, next) => {
    noteSessionLoaded(req);
    attachContext(req, ctx);
    attachEvents(req, resolved.events);
    exposeLogoutUrl(req, res);
    next();
  });
  router.get(resolved.routes.login, loginHandler(ctx));
  mountCallback(router, ctx, callbackHandler(ctx));
  // /logout may be shared by several providers: each handles its own users (providers.ts). A GET never ends a
  // session without proof that the user asked; a POST must come from the app's own pages (logout.ts).
  router.get(resolved.routes.logout, ownUsersOnly(ctx), logoutGetHandler(ctx));
  router.post(resolved.routes.logout, ownUsersOnly(ctx), ...logoutPostHandlers(ctx));
  if (resolved.backchannelLogout) router.post(resolved.routes.backchannelLogout, ...backchannelLogoutHandlers(ctx));
  // Last: only errors raised on the routes above reach it.
  router.use(routeErrorHandler(resolved));
  return router;
}
