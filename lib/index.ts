/**
 * express-oauth-login: OAuth 2.0 authorization code flow with PKCE and OpenID Connect for Express apps.
 *
 * @example
 * ```ts
 * app.use(session({ ... }));            // or oauthSession({ ... })
 * app.use(oauthLogin({ issuer, clientId, clientSecret, baseURL }));
 * app.get('/profile', requireAuth(), (req, res) => res.json(req.user!.claims));
 * ```
 * @packageDocumentation
 */
import { Router } from 'express';
import { type OAuthLoginConfig, resolveConfig } from './config.js';
import { type Context, attachContext } from './context.js';
import { backchannelLogoutHandlers } from './backchannel-logout.js';
import { callbackHandler } from './callback.js';
import { attachEvents } from './events.js';
import { loginHandler } from './login.js';
import { logoutHandler } from './logout.js';
import { createProvider } from './provider.js';
import { createRefresher } from './refresh.js';
import { ownUsersOnly } from './provider-names.js';
import { type ProviderConfig, providersRouter } from './providers.js';
import { mountCallback } from './response-mode.js';
import { noteSessionLoaded } from './session-state.js';

export type { OAuthLoginConfig, ResolvedConfig } from './config.js';
export type { ProviderConfig } from './providers.js';
export { requireAuth, type RequireAuthOptions, type ClaimRuleValue } from './require-auth.js';
export { getAccessToken } from './access-token.js';
export { fetchWithToken, type FetchWithTokenInit } from './resource-fetch.js';
export { attemptSilentLogin } from './silent-login.js';
export type { AfterCallback, AfterCallbackResult } from './complete-login.js';
export type {
  OAuthEvents,
  OAuthEventMap,
  LoginEvent,
  LogoutEvent,
  RefreshEvent,
  BackchannelLogoutEvent,
  ErrorEvent,
} from './events.js';
export type { AuthenticatedUser } from './types.js';
export {
  OAuthLoginError,
  ConfigError,
  SetupError,
  LoginStateError,
  IdpError,
  TokenValidationError,
  TokenEndpointError,
  IdpUnavailableError,
  UnauthenticatedError,
  ForbiddenError,
  StepUpRequiredError,
  LogoutTokenError,
  SessionStoreError,
  oauthErrorHandler,
  type OAuthErrorCode,
} from './errors.js';
export { oauthSession, redisClientOptions, type OAuthSessionOptions, type OAuthSessionMiddleware } from './session.js';
export type { RedisClient } from './redis.js';

/**
 * Creates the login router: GET `routes.login`, GET `routes.callback`, GET/POST `routes.logout`, and with
 * `backchannelLogout: true` POST `routes.backchannelLogout`.
 * Mount it after express-session: `app.use(session(...)); app.use(oauthLogin(config))`.
 *
 * The configuration is validated here, once; discovery happens lazily on the first login, so an IdP that is down
 * at start-up does not stop the app from starting.
 *
 * Several providers: `oauthLogin([{ name: 'google', ... }, { name: 'okta', ... }])` gives each its own routes
 * (`/login/<name>`, `/callback/<name>`) and a shared `/logout`; see providers.ts.
 *
 * @throws {ConfigError} with one line per problem when the configuration is invalid.
 * @public
 */
export function oauthLogin(config?: OAuthLoginConfig | ProviderConfig[]): Router {
  if (Array.isArray(config)) return providersRouter(config, oauthLogin);
  const resolved = resolveConfig(config);
  if (resolved.allowInsecureRequests) {
    process.emitWarning(
      `allowInsecureRequests is on: tokens travel to ${resolved.issuer} without TLS. Use it for local development and tests only.`,
      { code: 'EXPRESS_OAUTH_LOGIN_INSECURE', type: 'SecurityWarning' },
    );
  }
  const provider = createProvider(resolved);
  const ctx: Context = {
    config: resolved,
    provider,
    refresher: createRefresher(provider, resolved),
    loginPath: `${resolved.basePath}${resolved.routes.login}`,
  };
  const router = Router();
  router.use((req, _res, next) => {
    noteSessionLoaded(req);
    attachContext(req, ctx);
    attachEvents(req, resolved.events);
    next();
  });
  router.get(resolved.routes.login, loginHandler(ctx));
  mountCallback(router, ctx, callbackHandler(ctx));
  // /logout may be shared by several providers: each handles its own users (provider-names.ts).
  router.get(resolved.routes.logout, ownUsersOnly(ctx), logoutHandler(ctx));
  router.post(resolved.routes.logout, ownUsersOnly(ctx), logoutHandler(ctx));
  if (resolved.backchannelLogout) router.post(resolved.routes.backchannelLogout, ...backchannelLogoutHandlers(ctx));
  return router;
}
