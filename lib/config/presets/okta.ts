/**
 * Okta: https://developer.okta.com/docs/concepts/auth-servers/ and
 * https://developer.okta.com/docs/reference/api/oidc/
 *
 * Quirks: two kinds of authorization server with different issuers: the org server (`https://<domain>`, for
 * signing in to your app only) and custom ones (`https://<domain>/oauth2/<id>`, `default` included), whose access
 * tokens your own APIs can verify; endpoints live under `/v1/` of the issuer. Refresh tokens need `offline_access`.
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, originOf, withOverrides } from './merge.js';

/** Options of {@link okta}. @public */
export interface OktaOptions extends PresetOverrides {
  /** The Okta domain, e.g. `example.okta.com`. */
  domain: string;
  /** A custom authorization server id (`default`, ...); without it, the org authorization server. */
  authorizationServer?: string;
}

/** `providers.okta({ domain, authorizationServer? })`: an Okta org. @public */
export function okta({ domain, authorizationServer, ...overrides }: OktaOptions): OAuthLoginConfig {
  const origin = originOf(domain);
  return withOverrides(
    {
      issuer: authorizationServer === undefined ? origin : `${origin}/oauth2/${encodeURIComponent(authorizationServer)}`,
      scope: 'openid profile email offline_access',
    },
    overrides,
  );
}
