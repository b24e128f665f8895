/**
 * GitHub and GitHub Enterprise Server: OAuth 2.0 only (no OpenID Connect for user logins), so the identity comes
 * from the REST API. Documentation: https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 * (GitHub Apps: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app).
 *
 * Quirks, each handled as data here or once in the core for every IdP:
 * - the token endpoint answers form-encoded unless asked for JSON: openid-client always sends
 *   `Accept: application/json`;
 * - it reports errors (bad_verification_code, incorrect_client_credentials, ...) with status 200: the core's token
 *   response check turns any such body into the RFC 6749 §5.2 error it means (idp/token-response.ts);
 * - the client secret travels in the form (client_secret_post), as GitHub documents;
 * - the user id is `/user`'s numeric `id` (a login name can be renamed and reused: never an identity), and the
 *   e-mail is the primary address of `/user/emails` only when GitHub says it is verified;
 * - the REST API refuses requests without a User-Agent; no end-session or RFC 7009 revocation endpoint, so logout
 *   is local. OAuth app tokens do not expire; GitHub App user tokens last 8 hours and come with a refresh token,
 *   which the middleware uses like any other.
 */
import { ProfileError } from '../../errors.js';
import type { ProfileFetch, UserProfileFunction } from '../oauth2-options.js';
import type { OAuthLoginConfig } from '../schema.js';

/** Options of {@link github}. @public */
export interface GithubPresetOptions {
  /** GitHub Enterprise Server's URL, e.g. `https://github.example.com` (its API is `${enterpriseUrl}/api/v3`). */
  enterpriseUrl?: string;
}

interface GithubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

/** GitHub's REST API with the headers it documents (a User-Agent is required). */
async function getJson(fetch: ProfileFetch, url: string, accessToken: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'express-oauth-login',
    },
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: undefined };
  }
}

/** `/user` plus the verified primary address of `/user/emails`, with the numeric id as `sub`. */
function githubProfile(api: string): UserProfileFunction {
  return async ({ accessToken, fetch }) => {
    const user = await getJson(fetch, `${api}/user`, accessToken);
    const body = user.body as Record<string, unknown> | undefined;
    if (user.status !== 200 || typeof body !== 'object' || body === null || !Number.isSafeInteger(body.id)) {
      throw new ProfileError(`GitHub's /user did not say who you are (HTTP ${user.status}), so you are not signed in. Please try again later.`);
    }
    // Without the user:email scope GitHub answers 404: then the login simply has no e-mail.
    const emails = await getJson(fetch, `${api}/user/emails`, accessToken);
    const list: GithubEmail[] = emails.status === 200 && Array.isArray(emails.body) ? (emails.body as GithubEmail[]) : [];
    const primary = list.find((e) => e.primary === true && e.verified === true && typeof e.email === 'string');
    const claims: Record<string, unknown> = {
      id: body.id,
      login: body.login,
      preferred_username: body.login,
      ...(typeof body.name === 'string' && { name: body.name }),
      ...(typeof body.avatar_url === 'string' && { picture: body.avatar_url }),
      ...(typeof body.html_url === 'string' && { profile: body.html_url }),
      ...(primary && { email: primary.email, email_verified: true }),
    };
    return { sub: body.id as number, claims };
  };
}

/**
 * "Log in with GitHub" (or GitHub Enterprise Server): spread it and add your OAuth app's credentials,
 * `oauthLogin({ ...providers.github(), clientId, clientSecret, baseURL })`; any field can be overridden.
 * @public
 */
export function github(options: GithubPresetOptions = {}): Partial<OAuthLoginConfig> {
  const web = (options.enterpriseUrl ?? 'https://github.com').replace(/\/+$/, '');
  const api = options.enterpriseUrl ? `${web}/api/v3` : 'https://api.github.com';
  return {
    scope: 'read:user user:email',
    tokenEndpointAuthMethod: 'client_secret_post',
    server: {
      issuer: web,
      authorizationEndpoint: `${web}/login/oauth/authorize`,
      tokenEndpoint: `${web}/login/oauth/access_token`,
      userinfoEndpoint: `${api}/user`,
    },
    userProfile: githubProfile(api),
  };
}
