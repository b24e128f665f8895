/**
 * Plain OAuth 2.0 logins (README "Choosing your IdP"): a `scope` without `openid` means no ID token, so the user's
 * identity comes from a profile API (`userProfile`). The endpoints come from discovery (`discovery: 'oidc'`, the
 * default, or `'oauth2'` for RFC 8414 metadata at the issuer) or are given directly (`server`, no discovery
 * request). The options' shapes are spread into the one schema (schema.ts); the cross-field rules are read from
 * the raw input, before defaults, so an OpenID-Connect-only option is refused only when the app actually set it.
 */
import type { TokenEndpointResponse } from 'openid-client';
import { z } from 'zod';

/** Endpoints given directly, for an OAuth 2.0 server that publishes no metadata (RFC 8414 §2 field meanings). @public */
export interface ServerEndpoints {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** The default profile URL of an OAuth 2.0 login (`userProfile.url` overrides it). */
  userinfoEndpoint?: string;
  /** RFC 7009 token revocation, used at logout when set. */
  revocationEndpoint?: string;
  /** RP-initiated logout: where the browser is sent at logout, when set. */
  endSessionEndpoint?: string;
  /** The server's issuer identifier (default: the authorization endpoint's origin): labels, mix-up defense, RFC 9207 `iss`. */
  issuer?: string;
}

/** The bounded, timed `fetch` handed to a userProfile function: no redirects followed, httpTimeout applies. @public */
export type ProfileFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** What a userProfile function is given. @public */
export interface UserProfileInput {
  /** The access token of this login (do not log it). */
  accessToken: string;
  /** The whole token response. */
  tokens: TokenEndpointResponse;
  /** The middleware's IdP HTTP client: bounded response size, httpTimeout, telemetry. */
  fetch: ProfileFetch;
}

/** What a userProfile function returns: the stable user id (`sub`, a number becomes a string) and the claims to keep. @public */
export interface UserProfileResult {
  sub: string | number;
  claims?: Record<string, unknown>;
}

/** Reads the user's identity after an OAuth 2.0 login. Throwing refuses the login (502 `profile_invalid`). @public */
export type UserProfileFunction = (input: UserProfileInput) => Promise<UserProfileResult>;

/**
 * `userProfile`: where an OAuth 2.0 login learns who the user is. `{ url, subClaim }` fetches JSON with the access
 * token (default: the userinfo endpoint and `sub`); a function does it itself.
 * @public
 */
export type UserProfileOption = { url?: string; subClaim?: string } | UserProfileFunction;

const PROFILE_HINT = 'userProfile must be { url?, subClaim? } or an async function ({ accessToken, tokens, fetch }) => ({ sub, claims })';

const endpoint = (field: string) =>
  z
    .string({ error: `server.${field} must be an absolute http(s) URL` })
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { message: `server.${field} must be an absolute http(s) URL` });

/** The zod fields of the OAuth 2.0 options, spread into the schema. @private */
export const oauth2Shape = {
  discovery: z.enum(['oidc', 'oauth2'], { error: 'discovery must be "oidc" (/.well-known/openid-configuration) or "oauth2" (RFC 8414 metadata)' }).default('oidc'),
  server: z
    .object(
      {
        authorizationEndpoint: endpoint('authorizationEndpoint'),
        tokenEndpoint: endpoint('tokenEndpoint'),
        userinfoEndpoint: endpoint('userinfoEndpoint').optional(),
        revocationEndpoint: endpoint('revocationEndpoint').optional(),
        endSessionEndpoint: endpoint('endSessionEndpoint').optional(),
        issuer: endpoint('issuer').optional(),
      },
      { error: 'server must be { authorizationEndpoint, tokenEndpoint, userinfoEndpoint?, revocationEndpoint?, endSessionEndpoint?, issuer? }' },
    )
    .strict()
    .optional(),
  userProfile: z
    .custom<UserProfileOption>(
      (v) => typeof v === 'function' || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).every((k) => k === 'url' || k === 'subClaim')),
      PROFILE_HINT,
    )
    .optional(),
};

/** Options that only mean something with an ID token (OpenID Connect), and what to use instead. */
const OIDC_ONLY: Record<string, string> = {
  idTokenSigningAlgs: 'there is no ID token to verify',
  fetchUserinfo: 'use userProfile to choose the profile endpoint',
  backchannelLogout: 'logout tokens name ID token sessions',
  maxSessionLifetime: 'it counts from the ID token\'s auth_time; use absoluteTimeout',
  clientEncryptionKeys: 'they decrypt ID tokens and UserInfo responses',
  encryptedResponses: 'they are ID tokens and UserInfo responses',
  profile: 'the fapi2 profile is implemented for OpenID Connect logins',
};

/** True when a scope string (default `openid profile email`) asks for OpenID Connect. @private */
export function isOidcScope(scope: unknown): boolean {
  return typeof scope !== 'string' || scope.split(/\s+/).includes('openid');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isHttp = (v: unknown): boolean => typeof v === 'string' && URL.canParse(v) && new URL(v).protocol === 'http:';

/**
 * The cross-field rules of the OAuth 2.0 options, on the raw input (before defaults and the environment's issuer):
 * `server` and `discovery` are exclusive, an issuer (or `server`) is required, OpenID-Connect-only options need
 * `openid`, an OAuth 2.0 login needs a profile source, and http endpoints need allowInsecureRequests.
 * @private
 */
export function oauth2Issues(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const server = isObject(raw.server) ? raw.server : undefined;
  const oidc = isOidcScope(raw.scope);
  if (raw.server !== undefined && raw.discovery !== undefined) {
    problems.push('server and discovery are exclusive: server gives the endpoints, so nothing is discovered; remove one of them');
  }
  if (raw.issuer === undefined && raw.server === undefined) {
    problems.push(
      'issuer is required: the IdP issuer URL used for OpenID Connect discovery (or set OAUTH_ISSUER); ' +
        'or server: { authorizationEndpoint, tokenEndpoint } for an OAuth 2.0 server without metadata',
    );
  }
  if (server && typeof raw.issuer === 'string' && server.issuer !== undefined && server.issuer !== raw.issuer) {
    problems.push('issuer and server.issuer differ: give the issuer once (server.issuer)');
  }
  if (oidc) {
    if (raw.server !== undefined) problems.push('server needs a scope without "openid": OpenID Connect needs discovery (its ID token keys); remove server, or "openid" from scope');
    if (raw.userProfile !== undefined) problems.push('userProfile needs a scope without "openid": with OpenID Connect the ID token says who the user is (use fetchUserinfo or afterCallback for more claims)');
    return problems;
  }
  for (const [field, why] of Object.entries(OIDC_ONLY)) {
    if (raw[field] !== undefined) problems.push(`${field} is for OpenID Connect logins only (scope without "openid": ${why}); remove it, or add "openid" to scope`);
  }
  const profile = raw.userProfile;
  if (isObject(profile)) {
    if (profile.url !== undefined && !(typeof profile.url === 'string' && URL.canParse(profile.url) && /^https?:$/.test(new URL(profile.url).protocol))) {
      problems.push('userProfile.url must be an absolute http(s) URL');
    }
    if (profile.subClaim !== undefined && !(typeof profile.subClaim === 'string' && profile.subClaim.length > 0)) {
      problems.push('userProfile.subClaim must be a non-empty claim name, e.g. "id"');
    }
  }
  // With discovery the metadata may name a userinfo_endpoint; that is checked once discovered (idp/provider.ts).
  if (server && server.userinfoEndpoint === undefined && !(typeof profile === 'function' || (isObject(profile) && profile.url !== undefined))) {
    problems.push('an OAuth 2.0 login needs a profile source: server.userinfoEndpoint, userProfile.url or a userProfile function');
  }
  if (server && raw.allowInsecureRequests !== true) {
    for (const [field, value] of Object.entries(server)) {
      if (isHttp(value)) problems.push(`server.${field} uses http: use https, or set allowInsecureRequests: true for local development and tests only`);
    }
  }
  if (isObject(profile) && isHttp(profile.url) && raw.allowInsecureRequests !== true) {
    problems.push('userProfile.url uses http: use https, or set allowInsecureRequests: true for local development and tests only');
  }
  return problems;
}

/** The issuer identifier of a configuration: `issuer`, else `server.issuer`, else the authorization endpoint's origin. @private */
export function issuerOf(c: { issuer?: string | undefined; server?: ServerEndpoints | undefined }): string {
  return c.issuer ?? c.server?.issuer ?? new URL(c.server!.authorizationEndpoint).origin;
}
