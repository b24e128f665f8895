/**
 * Who the user is after a plain OAuth 2.0 login (scope without `openid`): there is no ID token, so the identity is
 * whatever the profile API says for this access token (README "What an OAuth 2.0 login does not prove").
 * `userProfile: { url, subClaim }` (default: the userinfo endpoint and `sub`) is fetched with the access token
 * through openid-client, as Bearer or DPoP (RFC 6750 §2.1, RFC 9449 §7); a userProfile function gets the same
 * bounded, timed HTTP client the middleware uses for every IdP call. The subject becomes a string either way.
 */
import * as client from 'openid-client';
import type { ProfileFetch, UserProfileResult } from '../config/oauth2-options.js';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, OAuthLoginError, ProfileError, findCause } from '../errors.js';
import type { StoredDpopKey } from '../types.js';
import { dpopOptions } from './dpop.js';
import type { Provider } from './provider.js';

/** The identity of an OAuth 2.0 login: the subject (a string) and the claims to keep (with `sub`). @private */
export interface OAuth2Identity {
  sub: string;
  claims: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A subject as a string: a non-empty string, or a whole number (GitHub's numeric `id`). */
function subjectOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= 255) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** The middleware's IdP fetch (provider.ts timedFetch), shaped as a plain fetch for userProfile functions. */
function profileFetch(configuration: client.Configuration): ProfileFetch {
  const custom = configuration[client.customFetch]!;
  return (url, init = {}) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    return custom(String(url), {
      method: init.method ?? 'GET',
      headers,
      body: (init.body ?? undefined) as client.FetchBody,
      redirect: 'manual',
      ...(init.signal && { signal: init.signal }),
    });
  };
}

function refused(detail: string, cause?: unknown): ProfileError {
  return new ProfileError(
    `The identity provider's profile endpoint did not say who you are (${detail}), so you are not signed in. Please try again later.`,
    cause === undefined ? undefined : { cause },
  );
}

/** GET the profile URL with the access token; the JSON object it answers, or a ProfileError. */
async function fetchProfile(
  configuration: client.Configuration,
  url: string,
  accessToken: string,
  dpop: StoredDpopKey | undefined,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await client.fetchProtectedResource(
      configuration,
      accessToken,
      new URL(url),
      'GET',
      undefined,
      new Headers({ accept: 'application/json' }),
      await dpopOptions(configuration, dpop),
    );
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    // A WWW-Authenticate challenge (RFC 6750 §3): the token was refused.
    throw refused('it refused the access token', err);
  }
  if (response.status !== 200) throw refused(`HTTP ${response.status}`);
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch (err) {
    throw refused('its answer is not JSON', err);
  }
  if (!isObject(body)) throw refused('its answer is not a JSON object');
  return body;
}

/**
 * The identity of the user this access token belongs to, from `userProfile`.
 * @throws {ProfileError} `profile_invalid` (502); {IdpUnavailableError} when the profile endpoint is unreachable
 *   or slow (502/504). Errors the app's own userProfile function raises as OAuthLoginError pass through.
 * @private
 */
export async function oauth2Identity(
  config: ResolvedConfig,
  provider: Provider,
  tokens: client.TokenEndpointResponse,
  dpop?: StoredDpopKey,
): Promise<OAuth2Identity> {
  const configuration = await provider.get();
  const profile = config.userProfile;
  if (typeof profile === 'function') {
    let result: UserProfileResult;
    try {
      result = await profile({ accessToken: tokens.access_token, tokens, fetch: profileFetch(configuration) });
    } catch (err) {
      const known = findCause(err, OAuthLoginError);
      if (known) throw known;
      throw refused('the userProfile function failed', err);
    }
    const sub = isObject(result) ? subjectOf(result.sub) : undefined;
    if (!sub) throw refused('the userProfile function returned no sub: a non-empty string or a whole number');
    if (result.claims !== undefined && !isObject(result.claims)) throw refused('the userProfile function returned claims that are not an object');
    return { sub, claims: { ...result.claims, sub } };
  }
  // server-metadata.ts checked at discovery that one of the two exists.
  const url = profile?.url ?? configuration.serverMetadata().userinfo_endpoint!;
  const subClaim = profile?.subClaim ?? 'sub';
  const claims = await fetchProfile(configuration, url, tokens.access_token, dpop);
  const sub = subjectOf(claims[subClaim]);
  if (!sub) throw refused(`its answer has no usable "${subClaim}": a non-empty string or a whole number`);
  return { sub, claims: { ...claims, sub } };
}

/**
 * The token response without an ID token: an OAuth 2.0 login verifies none, so it keeps none either (an unverified
 * one would later travel as id_token_hint).
 * @private
 */
export function withoutIdToken<T extends client.TokenEndpointResponse>(tokens: T): T {
  if (tokens.id_token === undefined) return tokens;
  return Object.fromEntries(Object.entries(tokens).filter(([name]) => name !== 'id_token')) as T;
}
