/**
 * The identity provider as openid-client sees it: discovery and client configuration, fetched lazily and cached as
 * a promise (an IdP that is down at start-up must not crash the app; a failed discovery is retried on the next
 * request), and its signing keys (JWKS), fetched once and cached.
 *
 * Why jose's remote JWKS rather than openid-client's enableNonRepudiationChecks: openid-client refetches the JWKS
 * for an unknown `kid` only when its cache is over a minute old, so the first logins after an IdP key rotation would
 * fail. Here a JWT the app fetched from the IdP itself (ID tokens from the token endpoint, signed UserInfo) may
 * refetch at once for an unknown `kid`: nobody else can hand us one, and after a genuine key rotation the next login
 * gets through. A JWT anyone can send to the app's routes (a logout token, a JARM response) refetches at most once
 * per {@link UNKNOWN_KID_COOLDOWN_MS} per IdP, shared with the former: 200 posts with made-up kids, one fetch.
 */
import {
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  customFetch as joseCustomFetch,
} from 'jose';
import * as client from 'openid-client';
import { clientAuthFor } from './client-auth.js';
import { clientMetadataFor, enableClientFeatures } from './client-features.js';
import { rememberDpopNonce } from './dpop-nonces.js';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, findCause } from '../errors.js';
import { type IdpEndpoint, observeIdpCall } from '../telemetry.js';
import { endpointKind } from './endpoints.js';
import { serverMetadataOf } from './metadata.js';
import { idpFetch } from './http.js';
import { mtlsAgent } from './mtls.js';
import { assertProfileSource, configurationFromServer } from './server-metadata.js';
import { tokenErrorWithStatus } from './token-response.js';
import { assertIdpSupports } from './support.js';
import { assertIssuerFits, discoveryTarget, templateRefused } from './tenants.js';

type RemoteJWKSet = ReturnType<typeof createRemoteJWKSet>;

/** Discovery is retried at most this often while the IdP is down, so a dead IdP is not hammered. */
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * Who handed the app a JWT: `idp` for a response the app fetched from the IdP over the back channel (token endpoint,
 * UserInfo), `anyone` for what arrives at the app's own routes (logout tokens, JARM responses).
 * @private
 */
export type JwtSource = 'idp' | 'anyone';

/** A lazily discovered provider. @private */
export interface Provider {
  /** Resolves the openid-client Configuration, discovering it on first use. */
  get(): Promise<client.Configuration>;
  /**
   * The IdP's signing keys (cached), for JWTs from `source` (default `anyone`): an unknown kid refetches them at
   * once for `idp`, at most once per {@link UNKNOWN_KID_COOLDOWN_MS} for `anyone`.
   */
  keys(source?: JwtSource): Promise<JWTVerifyGetKey>;
}

function isTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: string }).name;
    if (name === 'TimeoutError' || (e as { code?: string }).code === 'OAUTH_TIMEOUT') return true;
  }
  return false;
}

/**
 * Wraps idpFetch (see http.ts) with our own deadline (openid-client's `timeout` has a one-second granularity) and turns transport
 * failures into errors with the right status: 504 for a slow IdP, 502 for one that cannot be reached. https requests
 * present the client certificate when there is one (mtls.ts); every response's DPoP nonce is remembered
 * (dpop-nonces.ts). Every IdP call passes here, so this is also where it gets its client span, `traceparent` and
 * duration (telemetry.ts); `endpoint(url)` names the endpoint for them.
 */
function timedFetch(config: ResolvedConfig, endpoint: (url: string) => IdpEndpoint): client.CustomFetch {
  const agent = mtlsAgent(config);
  return (url, options) =>
    observeIdpCall(() => endpoint(url), url, options as RequestInit, async (init) => {
      try {
        // httpTimeout as idpFetch's own deadline; the caller's signal (openid-client's, jose's) still aborts.
        const response = await idpFetch(url, init, agent, config.httpTimeout);
        rememberDpopNonce(url, response);
        return endpoint(url) === 'token' ? await tokenErrorWithStatus(response) : response;
      } catch (err) {
        throw toUnavailable(err, config, new URL(url).pathname);
      }
    });
}

/** Maps a transport failure to a 502/504 IdpUnavailableError whose message names the endpoint but no secrets. */
export function toUnavailable(err: unknown, config: ResolvedConfig, what: string): IdpUnavailableError {
  const known = findCause(err, IdpUnavailableError);
  if (known) return known;
  if (isTimeout(err)) {
    return new IdpUnavailableError(
      'idp_timeout',
      504,
      `The identity provider did not answer within ${config.httpTimeout} ms (${what}). Please try again.`,
      { cause: err },
    );
  }
  return new IdpUnavailableError(
    'idp_unavailable',
    502,
    `The identity provider could not be reached (${what}). Please try again in a moment.`,
    { cause: err },
  );
}

async function discover(config: ResolvedConfig): Promise<client.Configuration> {
  const execute: Array<(c: client.Configuration) => void> = [];
  if (config.allowInsecureRequests) execute.push(client.allowInsecureRequests);
  const auth = await clientAuthFor(config);
  let configuration: client.Configuration | undefined;
  // Until discovery has answered, the only call is discovery itself; then the metadata names the endpoints.
  const endpoint = (url: string) => (configuration ? endpointKind(url, serverMetadataOf(configuration)) : 'discovery');
  const fetch = timedFetch(config, endpoint);
  const timeout = Math.ceil(config.httpTimeout / 1000) + 1;
  try {
    // `server` gives the endpoints (no request); otherwise OIDC discovery or RFC 8414 (`discovery: 'oauth2'`). With
    // allowedTenants, the well-known document itself: its issuer may be a template (tenants.ts).
    configuration = config.server
      ? configurationFromServer(config, auth, { fetch, timeout })
      : await client.discovery(discoveryTarget(config), config.clientId, clientMetadataFor(config), auth, {
          execute,
          [client.customFetch]: fetch,
          timeout,
          algorithm: config.discovery,
        });
  } catch (err) {
    const refused = templateRefused(err);
    if (refused) throw refused;
    const transport = findCause(err, IdpUnavailableError);
    if (transport) {
      // The app is fine, the IdP is not: 503 (with Retry-After) tells clients to come back; 504 when it was slow.
      throw new IdpUnavailableError(
        transport.code,
        transport.code === 'idp_timeout' ? 504 : 503,
        `Sign-in is unavailable: the identity provider (${config.issuer}) cannot be reached. Please try again shortly.`,
        { cause: err },
      );
    }
    throw new IdpUnavailableError(
      'idp_bad_response',
      503,
      `Sign-in is unavailable: the identity provider's discovery document at ${config.issuer} is invalid. ` +
        'Check the issuer setting.',
      { cause: err },
    );
  }
  assertIssuerFits(config, configuration.serverMetadata().issuer);
  assertIdpSupports(config, configuration.serverMetadata());
  assertProfileSource(config, configuration.serverMetadata());
  await enableClientFeatures(config, configuration, auth);
  return configuration;
}

/** The IdP's keys are refetched this often (and at once for an unknown `kid`), so a withdrawn key stops working. */
const JWKS_MAX_AGE_MS = 10 * 60 * 1000;
/** After a failed refetch, the cached keys are used without asking again for this long. */
const JWKS_RETRY_AFTER_FAILURE_MS = 30 * 1000;

/**
 * Stale-if-error for the JWKS: when the periodic refetch fails (the JWKS endpoint is down or slow), logins keep
 * verifying with the keys already fetched instead of failing, and the endpoint is asked again only after a pause,
 * so a hanging endpoint does not add httpTimeout to every login. A `kid` the cached keys do not have still needs
 * the endpoint: that fails with the transport error (502/504).
 */
function keepKeysWhenUnreachable(remote: RemoteJWKSet): JWTVerifyGetKey {
  let failedAt = 0;
  let local: { keys: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined;
  const fromCache = (keys: JSONWebKeySet): JWTVerifyGetKey => {
    if (local?.keys !== keys) local = { keys, getKey: createLocalJWKSet(keys) };
    return local.getKey;
  };
  return async (header, token) => {
    const cached = remote.jwks();
    const stale = cached !== undefined && !remote.fresh;
    if (stale && Date.now() - failedAt < JWKS_RETRY_AFTER_FAILURE_MS) {
      try {
        return await fromCache(cached)(header, token);
      } catch {
        // E.g. a kid the cached keys lack: ask the endpoint after all.
      }
    }
    try {
      return await remote(header, token);
    } catch (err) {
      if (!stale || err instanceof joseErrors.JWKSNoMatchingKey) throw err;
      failedAt = Date.now();
      try {
        return await fromCache(cached)(header, token);
      } catch {
        throw err;
      }
    }
  };
}

/**
 * How often a JWT with a `kid` the cached keys lack may make the app refetch the JWKS when anyone could have sent it
 * (issue: back-channel logout as an amplifier). jose's cooldownDuration counts from the last successful fetch;
 * this one from the last attempt, so a failing JWKS endpoint is not hammered either.
 * @private
 */
export const UNKNOWN_KID_COOLDOWN_MS = 30 * 1000;

/**
 * Unknown-kid refetches by source (see {@link JwtSource}): the cached keys answer a known kid; for an unknown one
 * an `idp` JWT reloads now (a key rotation), an `anyone` JWT only when no unknown kid caused a fetch in the last
 * {@link UNKNOWN_KID_COOLDOWN_MS}. Concurrent reloads share one fetch (jose). Stale or missing keys go to `getKey`.
 */
function limitUnknownKidRefetch(remote: RemoteJWKSet, getKey: JWTVerifyGetKey): (source: JwtSource) => JWTVerifyGetKey {
  let refetchedAt = Number.NEGATIVE_INFINITY;
  let local: { keys: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined;
  const fromCache = (keys: JSONWebKeySet): JWTVerifyGetKey => {
    if (local?.keys !== keys) local = { keys, getKey: createLocalJWKSet(keys) };
    return local.getKey;
  };
  const bySource = (source: JwtSource): JWTVerifyGetKey => async (header, token) => {
    const cached = remote.jwks();
    if (!cached || !remote.fresh) return getKey(header, token);
    try {
      return await fromCache(cached)(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (source === 'anyone' && Date.now() - refetchedAt < UNKNOWN_KID_COOLDOWN_MS) throw err;
      refetchedAt = Date.now();
      await remote.reload();
      return fromCache(remote.jwks() ?? cached)(header, token);
    }
  };
  const getters = { idp: bySource('idp'), anyone: bySource('anyone') };
  return (source) => getters[source];
}

/** Creates the lazily discovered provider for a configuration. @private */
export function createProvider(config: ResolvedConfig): Provider {
  let cached: Promise<client.Configuration> | undefined;
  let failure: { error: unknown; at: number } | undefined;
  let jwks: ((source: JwtSource) => JWTVerifyGetKey) | undefined;
  return {
    async keys(source = 'anyone') {
      if (jwks) return jwks(source);
      const uri = (await this.get()).serverMetadata().jwks_uri;
      if (!uri) {
        throw new IdpUnavailableError('idp_bad_response', 502, 'The identity provider publishes no jwks_uri: its ID tokens cannot be verified.');
      }
      const remote = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: config.httpTimeout,
        cooldownDuration: UNKNOWN_KID_COOLDOWN_MS,
        cacheMaxAge: JWKS_MAX_AGE_MS,
        [joseCustomFetch]: timedFetch(config, () => 'jwks') as never,
      });
      jwks = limitUnknownKidRefetch(remote, keepKeysWhenUnreachable(remote));
      return jwks(source);
    },
    get() {
      if (cached) return cached;
      if (failure && Date.now() - failure.at < RETRY_AFTER_FAILURE_MS) return Promise.reject(failure.error);
      const attempt = discover(config);
      cached = attempt;
      attempt.then(
        () => {
          failure = undefined;
        },
        (err: unknown) => {
          // Drop the failed promise so the next request retries discovery.
          cached = undefined;
          failure = { error: err, at: Date.now() };
        },
      );
      return attempt;
    },
  };
}

