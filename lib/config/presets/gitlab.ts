/**
 * GitLab (gitlab.com or self-managed): an OpenID Provider (doorkeeper-openid_connect) with discovery at
 * `${url}/.well-known/openid-configuration`. Documentation: https://docs.gitlab.com/integration/openid_connect_provider/
 * and https://docs.gitlab.com/api/oauth2/.
 *
 * Quirks: the ID token carries `sub`, `auth_time`, names, e-mail and `groups_direct`, while `groups` (every group,
 * inherited ones too) is served by UserInfo only, so UserInfo is fetched for requireAuth({ claims: { groups } })
 * rules. There is no end-session endpoint (logout is local); access tokens last two hours and come with a refresh
 * token, which GitLab rotates. Enable the `openid`, `profile` and `email` scopes on the application.
 */
import type { OAuthLoginConfig } from '../schema.js';

/** Options of {@link gitlab}. @public */
export interface GitlabPresetOptions {
  /** A self-managed GitLab's URL, default `https://gitlab.com`. */
  url?: string;
}

/**
 * "Log in with GitLab": `oauthLogin({ ...providers.gitlab(), clientId, clientSecret, baseURL })`; any field can be
 * overridden.
 * @public
 */
export function gitlab(options: GitlabPresetOptions = {}): Partial<OAuthLoginConfig> {
  return {
    issuer: (options.url ?? 'https://gitlab.com').replace(/\/+$/, ''),
    scope: 'openid profile email',
    fetchUserinfo: true,
  };
}
