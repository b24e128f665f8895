/**
 * The one configuration schema: defaults, environment variables, cross-field rules, and messages that name the
 * field and say what to fix. Validated once, when `oauthLogin()` is called, never per request.
 */
import type { JWK } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { OAuthEvents } from '../events.js';
import type { AfterCallback } from '../types.js';
import { type ClientKey, TOKEN_ENDPOINT_AUTH_METHODS, clientAuthIssues, needsClientSecret, parseClientKey, usesClientKey } from './client-key.js';
import { type ResolvedClientSecurity, clientSecurityIssues, clientSecurityShape, resolveClientSecurity } from './client-security.js';
import { baseUrlOption, httpUrl, isClearTextOrigin, parseOptions, routePath } from './fields.js';
import { isOidcScope, issuerOf, oauth2Issues, oauth2Shape } from './oauth2-options.js';
import { PROFILES, applyProfileDefaults } from './profiles.js';
import { PROVIDER_NAME, applyProviderDefaults } from './provider-names.js';
import { type RedisClient, isRedisClient } from './redis-client.js';
import { type SessionEndDerived, deriveSessionEnd, sessionEndIssues, sessionEndShape } from './session-end.js';
import { tenantIssues, tenantShape } from './tenants.js';
import { telemetryOptions } from './telemetry-options.js';

/** Parameters the middleware owns: letting `authorizationParams` override them would undo a security check. */
const RESERVED_AUTH_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'scope',
  // Set by the options responseMode, dpop, pushedAuthorizationRequests and requestObject.
  'response_mode',
  'dpop_jkt',
  'request_uri',
  'request',
];

/** Asymmetric JWS algorithms: the ID token must be verifiable with the IdP's public keys alone. */
const DEFAULT_ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const schema = z
  .object({
    // Required unless `server` gives the endpoints: oauth2-options.ts checks that on the raw input.
    issuer: httpUrl('issuer', 'the IdP issuer URL used for OpenID Connect discovery (or set OAUTH_ISSUER)').optional(),
    clientId: z
      .string({ error: 'clientId is required: the client ID registered at the IdP (or set OAUTH_CLIENT_ID)' })
      .min(1, 'clientId must not be empty'),
    // Required for the secret methods only: see the cross-field rules below.
    clientSecret: z.string().min(1, 'clientSecret must not be empty').optional(),
    baseURL: httpUrl('baseURL', "the app's external origin, e.g. https://app.example.com (or set OAUTH_BASE_URL)"),
    // With "openid": an OpenID Connect login; without: plain OAuth 2.0 (oauth2-options.ts).
    scope: z.string().min(1, 'scope must not be empty').default('openid profile email'),
    ...oauth2Shape,
    routes: z
      .object({
        login: routePath('routes.login', '/login'),
        callback: routePath('routes.callback', '/callback'),
        logout: routePath('routes.logout', '/logout'),
        backchannelLogout: routePath('routes.backchannelLogout', '/backchannel-logout'),
      })
      .strict()
      .default({ login: '/login', callback: '/callback', logout: '/logout', backchannelLogout: '/backchannel-logout' }),
    allowInsecureRequests: z.boolean().default(false),
    tokenEndpointAuthMethod: z
      .enum(TOKEN_ENDPOINT_AUTH_METHODS, {
        error: `tokenEndpointAuthMethod must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.map((m) => `"${m}"`).join(', ')}`,
      })
      .default('client_secret_basic'),
    authorizationParams: z
      .record(z.string(), z.string())
      .default({})
      .superRefine((params, ctx) => {
        for (const key of Object.keys(params)) {
          if (RESERVED_AUTH_PARAMS.includes(key)) {
            ctx.addIssue({
              code: 'custom',
              message: `authorizationParams.${key} is set by the middleware and cannot be overridden${key === 'scope' ? ' (use the scope option)' : ''}`,
            });
          }
        }
      }),
    clockTolerance: z.number().int().min(0).max(300, 'clockTolerance is in seconds; keep it at most 300').default(30),
    httpTimeout: z.number().int().min(100, 'httpTimeout is in milliseconds; use at least 100').max(120_000).default(5000),
    idTokenSigningAlgs: z.array(z.string().min(1)).min(1).default(DEFAULT_ID_TOKEN_ALGS),
    loginTimeout: z.number().int().min(30).max(3600).default(600),
    maxPendingLogins: z.number().int().min(1).max(20).default(5),
    refreshSkew: z.number().int().min(0).max(600).default(30),
    idleTimeout: z.number().int().min(60).default(24 * 3600),
    absoluteTimeout: z.number().int().min(60).default(7 * 24 * 3600),
    // Lifecycle (issue 4): logout, back-channel logout, UserInfo, hooks and events.
    idpLogout: z.boolean({ error: 'idpLogout must be true or false' }).default(true),
    postLogoutRedirect: z
      .string()
      .refine((s) => /^\/(?!\/)[^\s\\]*$/.test(s) || (URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)), {
        message: 'postLogoutRedirect must be a path on this app ("/goodbye") or an absolute http(s) URL',
      })
      .optional(),
    backchannelLogout: z.boolean({ error: 'backchannelLogout must be true or false' }).default(false),
    // README "Session control": keep a record per session for listSessions() / endSessions().
    sessionControl: z
      .union([z.boolean(), z.object({ recordIp: z.boolean().default(false) }).strict()], {
        error: 'sessionControl must be true, false or { recordIp: boolean }',
      })
      .default(false),
    fetchUserinfo: z.boolean({ error: 'fetchUserinfo must be true or false' }).default(false),
    afterCallback: z
      .custom<AfterCallback>((v) => typeof v === 'function', 'afterCallback must be a function (req, tokens, claims) => ...')
      .optional(),
    events: z
      .custom<OAuthEvents>((v) => typeof v === 'object' && v !== null, 'events must be an object of callbacks or an EventEmitter')
      .optional(),
    redis: z
      .custom<RedisClient>(isRedisClient, {
        message: 'redis must be an ioredis client (new Redis(url) or new Cluster([...])) used to coordinate instances',
      })
      .optional(),
    // Modern client security (README "Modern client security"): lib/client-auth.ts, profiles.ts, dpop.ts.
    clientPrivateKey: z
      .union([
        z.string().min(1),
        z.custom<JWK>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'clientPrivateKey must be a JWK object or a PEM/JSON string'),
      ])
      .optional(),
    clientPrivateKeyId: z.string().min(1).optional(),
    // Issue 13: a client secret made on demand (Apple's signed secret JWT, presets/apple.ts), and the form_post
    // `user` field some IdPs send once (Apple: the name, on the first login only).
    makeClientSecret: z
      .custom<(clientId: string) => Promise<string>>((v) => typeof v === 'function', 'makeClientSecret must be a function (clientId) => Promise<string>')
      .optional(),
    keepPostedUser: z.boolean({ error: 'keepPostedUser must be true or false' }).default(false),
    pushedAuthorizationRequests: z.boolean().default(false),
    dpop: z.boolean().default(false),
    // Issue 14: responseMode (with JARM), clientCertificate (mTLS), requestObject (JAR), clientEncryptionKeys.
    ...clientSecurityShape,
    profile: z.enum(PROFILES, { error: `profile must be ${PROFILES.map((p) => `"${p}"`).join(' or ')}` }).optional(),
    name: z.string().regex(PROVIDER_NAME, 'name must be 1-32 letters, digits, "-" or "_" (it becomes part of the route paths)').optional(),
    // Errors on the middleware's own routes: the built-in page (true), or next(err) to the app's handlers (false).
    errorPage: z.boolean({ error: 'errorPage must be true or false' }).default(true),
    // How sessions end (issue 12): logout CSRF rules, end-session method, revocation, upstream ceiling.
    ...sessionEndShape,
    // Observability (README "Observability"): lib/config/telemetry-options.ts.
    ...telemetryOptions,
    // Multi-tenant issuers (issue 13): lib/config/tenants.ts.
    ...tenantShape,
  })
  .strict()
  .superRefine((c, ctx) => {
    const issuer = c.issuer !== undefined && URL.canParse(c.issuer) ? new URL(c.issuer) : undefined;
    if (issuer?.protocol === 'http:' && !c.allowInsecureRequests) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'issuer uses http: use https, or set allowInsecureRequests: true for local development and tests only',
      });
    }
    const base = URL.canParse(c.baseURL) ? new URL(c.baseURL) : undefined;
    if (base && isClearTextOrigin(base) && !c.allowInsecureRequests) {
      ctx.addIssue({
        code: 'custom',
        path: ['baseURL'],
        message: 'baseURL uses http on a non-loopback host: session cookies would travel in clear text; use https',
      });
    }
    if (base && (base.search || base.hash)) {
      ctx.addIssue({ code: 'custom', path: ['baseURL'], message: 'baseURL must not contain a query or fragment' });
    }
    if (c.absoluteTimeout < c.idleTimeout) {
      ctx.addIssue({ code: 'custom', path: ['absoluteTimeout'], message: 'absoluteTimeout must be >= idleTimeout' });
    }
    const { login, callback, logout, backchannelLogout } = c.routes;
    if (new Set([login, callback, logout, backchannelLogout]).size !== 4) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: 'routes.login, routes.callback, routes.logout and routes.backchannelLogout must differ' });
    }
    if (c.idTokenSigningAlgs.includes('none')) {
      ctx.addIssue({ code: 'custom', path: ['idTokenSigningAlgs'], message: 'unsigned ID tokens (alg "none") are never accepted' });
    }
    for (const issue of [...clientAuthIssues(c), ...sessionEndIssues(c), ...clientSecurityIssues(c), ...tenantIssues(c)]) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
  })
  // Checked even when other fields fail, so a missing secret is listed together with every other problem.
  .refine((c) => !needsClientSecret(c) || Boolean(c.clientSecret) || typeof c.makeClientSecret === 'function', {
    path: ['clientSecret'],
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
    message:
      'clientSecret is required: the client secret issued by the IdP (or set OAUTH_CLIENT_SECRET); ' +
      'or use tokenEndpointAuthMethod "private_key_jwt" with clientPrivateKey',
  });

type EnvFilled = 'issuer' | 'clientId' | 'clientSecret' | 'baseURL';
/**
 * Options accepted by `oauthLogin()`. See README "Configuration" for every option. The four required fields may
 * come from the environment (OAUTH_ISSUER, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_BASE_URL) instead.
 * @public
 */
export type OAuthLoginConfig = Omit<z.input<typeof schema>, EnvFilled> & Partial<Pick<z.input<typeof schema>, EnvFilled>>;

/** The validated configuration with every default applied. @public */
export type ResolvedConfig = Omit<z.output<typeof schema>, 'issuer'> & SessionEndDerived & ResolvedClientSecurity & {
  /** The issuer identifier: `issuer`, else `server.issuer`, else the authorization endpoint's origin. */
  issuer: string;
  /** `oidc` when scope includes `openid` (an ID token says who the user is), else `oauth2` (userProfile does). */
  protocol: 'oidc' | 'oauth2';
  /** baseURL without a trailing slash; the redirect URI is `${appBase}${routes.callback}`. */
  appBase: string;
  /** Path prefix of baseURL ('' at the origin root), for redirects the browser follows on this app. */
  basePath: string;
  /** Where to send a browser to log in: the base path plus the login route. */
  loginPath: string;
  redirectUri: string;
  secureCookies: boolean;
  /** Absolute URL the browser ends at after logout (after the IdP, once `state` is checked): postLogoutRedirect resolved against appBase, else baseURL. */
  postLogoutUrl: string;
  /** The parsed `clientPrivateKey` (private_key_jwt and request objects). */
  clientKey?: ClientKey;
};

const ENV: Record<string, string> = {
  issuer: 'OAUTH_ISSUER',
  clientId: 'OAUTH_CLIENT_ID',
  clientSecret: 'OAUTH_CLIENT_SECRET',
  clientPrivateKey: 'OAUTH_CLIENT_PRIVATE_KEY',
};

/**
 * Validates the configuration, fills unset fields from the environment, and applies defaults.
 * @throws {ConfigError} listing every problem at once.
 * @public
 */
export function resolveConfig(input: OAuthLoginConfig | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new ConfigError(['the configuration must be an object']);
  }
  const raw: Record<string, unknown> = { ...(input ?? {}) };
  // Before any default is filled in, so only options the app set are held against a plain OAuth 2.0 login.
  const protocolProblems = oauth2Issues({ ...raw, issuer: raw.issuer ?? (raw.server === undefined ? env.OAUTH_ISSUER || undefined : undefined) });
  applyProfileDefaults(raw);
  applyProviderDefaults(raw);
  for (const [field, name] of Object.entries(ENV)) {
    // A key in the environment is only picked up when the configuration signs with it, so a shared env stays harmless.
    if (field === 'clientPrivateKey' && !usesClientKey(raw)) continue;
    // `server` names the endpoints itself: an issuer from a shared environment would only contradict it.
    if (field === 'issuer' && raw.server !== undefined) continue;
    if (raw[field] === undefined && env[name]) raw[field] = env[name];
  }
  raw.baseURL = baseUrlOption(raw, env);
  const c = parseOptions(schema, raw, protocolProblems);
  const appBase = c.baseURL.replace(/\/+$/, '');
  const basePath = new URL(appBase).pathname.replace(/\/+$/, '');
  const key = usesClientKey(c) ? parseClientKey(c.clientPrivateKey, c.clientPrivateKeyId, c.profile === 'fapi2') : undefined;
  return {
    ...(key && 'key' in key && { clientKey: key.key }),
    ...c,
    issuer: issuerOf(c),
    protocol: isOidcScope(c.scope) ? 'oidc' : 'oauth2',
    ...resolveClientSecurity(c),
    appBase,
    basePath,
    loginPath: `${basePath}${c.routes.login}`,
    redirectUri: `${appBase}${c.routes.callback}`,
    secureCookies: new URL(appBase).protocol === 'https:',
    postLogoutUrl: c.postLogoutRedirect?.startsWith('/') ? `${appBase}${c.postLogoutRedirect}` : (c.postLogoutRedirect ?? c.baseURL),
    ...deriveSessionEnd(appBase, basePath, c.routes.logout, c.logoutOrigins),
  };
}
