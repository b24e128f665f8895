/**
 * express-oauth-login: OAuth 2.0 authorization code flow with PKCE and OpenID Connect for Express apps.
 * This file is the public API and nothing else; see README "How the code is organised" for the folders behind it.
 *
 * @example
 * ```ts
 * app.use(oauthSession({ secret: process.env.SESSION_SECRET! }));
 * app.use(oauthLogin({ issuer, clientId, clientSecret, baseURL }));
 * app.get('/profile', requireAuth(), (req, res) => res.json(req.user!.claims));
 * app.use(oauthErrorHandler());
 * ```
 * @packageDocumentation
 */
export { oauthLogin } from './routes/router.js';
export {
  providers,
  type PresetOverrides,
  type AppleOptions,
  type Auth0Options,
  type CognitoOptions,
  type GithubPresetOptions,
  type GitlabPresetOptions,
  type KeycloakOptions,
  type MicrosoftOptions,
  type OktaOptions,
} from './config/presets/providers.js';
export type { OAuthLoginConfig, ResolvedConfig } from './config/schema.js';
export type { ProviderConfig } from './routes/providers.js';
export type { PerRequestConfig, ResolveProvider } from './routes/per-request.js';
export { requireAuth, type RequireAuthOptions, type ClaimRuleValue } from './guard/require-auth.js';
export { getAccessToken } from './guard/access-token.js';
export { fetchWithToken, type FetchWithTokenInit } from './guard/resource-fetch.js';
export { exchangeToken, type ExchangeTokenOptions, type ExchangedToken } from './guard/token-exchange.js';
export { attemptSilentLogin } from './guard/silent-login.js';
export { logoutUrl } from './routes/logout-url.js';
export {
  listSessions,
  endSession,
  endAllSessions,
  endSessions,
  sessionFormToken,
  isSessionFormRequest,
  type SessionInfo,
  type SessionSelector,
} from './routes/session-control.js';
export type { AfterCallback, AfterCallbackResult, AuthenticatedUser } from './types.js';
export {
  auditLogger,
  EVENT_SCHEMA_VERSION,
  type AuditListeners,
  type AuditLogTarget,
  type EventBase,
  type OAuthEvents,
  type OAuthEventMap,
  type LoginEvent,
  type LogoutEvent,
  type RefreshEvent,
  type BackchannelLogoutEvent,
  type SessionsEndedEvent,
  type ErrorEvent,
} from './events.js';
export {
  OAuthLoginError,
  ConfigError,
  SetupError,
  LoginStateError,
  IdpError,
  TokenValidationError,
  ProfileError,
  TokenEndpointError,
  TokenExchangeError,
  IdpUnavailableError,
  UnauthenticatedError,
  ForbiddenError,
  StepUpRequiredError,
  LogoutTokenError,
  LogoutError,
  RevocationError,
  SessionStoreError,
  ProviderResolutionError,
  type OAuthErrorCode,
} from './errors.js';
export { oauthErrorHandler } from './routes/error-page.js';
export { oauthSession, redisClientOptions, type OAuthSessionMiddleware } from './session/store.js';
export { sealedStore } from './session/sealed-store.js';
export { storeKeyOf } from './session/session-key.js';
export type { OAuthSessionOptions } from './config/session-options.js';
export type { RedisClient } from './config/redis-client.js';
export type { ClientCertificateOption } from './config/client-certificate.js';
export type { ResponseMode } from './config/client-security.js';
export type { EncryptedResponse } from './config/encryption-keys.js';
export type {
  ServerEndpoints,
  UserProfileOption,
  UserProfileFunction,
  UserProfileInput,
  UserProfileResult,
  ProfileFetch,
} from './config/oauth2-options.js';
