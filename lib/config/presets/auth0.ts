/**
 * Auth0: https://auth0.com/docs/authenticate/protocols/openid-connect-protocol
 *
 * Quirks: the issuer ends with a slash (`https://<domain>/`) and must be configured with it; an access token for
 * your own API needs `audience` (https://auth0.com/docs/secure/tokens/access-tokens/get-access-tokens), without
 * it Auth0 issues an opaque token for /userinfo only; refresh tokens need the `offline_access` scope. RP-initiated
 * logout (`/oidc/logout`) is advertised once enabled in the tenant settings.
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, originOf, withOverrides } from './merge.js';

/** Options of {@link auth0}. @public */
export interface Auth0Options extends PresetOverrides {
  /** The tenant's domain, e.g. `example.eu.auth0.com`, or a custom domain. */
  domain: string;
  /** The API identifier the access token is for (sent as `audience`). */
  audience?: string;
}

/** `providers.auth0({ domain, audience? })`: an Auth0 tenant. @public */
export function auth0({ domain, audience, ...overrides }: Auth0Options): OAuthLoginConfig {
  return withOverrides(
    {
      issuer: `${originOf(domain)}/`,
      scope: 'openid profile email offline_access',
      ...(audience !== undefined && { authorizationParams: { audience } }),
    },
    overrides,
  );
}
