/**
 * The identity provider as openid-client sees it: discovery and client configuration, fetched lazily and cached as
 * a promise (an IdP that is down at start-up must not crash the app; a failed discovery is retried on the next
 * request), and its signing keys (JWKS), fetched once and cached.
 *
 * Why jose's remote JWKS rather than openid-client's enableNonRepudiationChecks: openid-client refetches the JWKS
 * for an unknown `kid` only when its cache is over a minute old, so the first logins after an IdP key rotation would
 * fail. ID tokens reach us only from the token endpoint over the back channel, so refetching once per unknown `kid`
 * cannot be abused to make us hammer the IdP.
 */
import { type JWTVerifyGetKey, createRemoteJWKSet, customFetch as joseCustomFetch } from 'jose';
import * as client from 'openid-client';
import { clientAuthFor } from './client-auth.js';
import type { ResolvedConfig } from './config.js';
import { IdpUnavailableError, findCause } from './errors.js';
import { idpFetch } from './idp-http.js';
import { assertIdpSupports } from './idp-support.js';

/** Discovery is retried at most this often while the IdP is down, so a dead IdP is not hammered. */
const RETRY_AFTER_FAILURE_MS = 1000;

/** A lazily discovered provider. @private */
export interface Provider {
  /** Resolves the openid-client Configuration, discovering it on first use. */
  get(): Promise<client.Configuration>;
  /** The IdP's signing keys (cached; one refetch on an unknown kid). */
  keys(): Promise<JWTVerifyGetKey>;
}

function isTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: string }).name;
    if (name === 'TimeoutError' || (e as { code?: string }).code === 'OAUTH_TIMEOUT') return true;
  }
  return false;
}

/**
 * Wraps idpFetch (see idp-http.ts) with our own deadline (openid-client's `timeout` has a one-second granularity) and turns transport
 * failures into errors with the right status: 504 for a slow IdP, 502 for one that cannot be reached.
 */
function timedFetch(config: ResolvedConfig): client.CustomFetch {
  return async (url, options) => {
    const signal = options.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(config.httpTimeout)])
      : AbortSignal.timeout(config.httpTimeout);
    try {
      return await idpFetch(url, { ...options, signal } as RequestInit);
    } catch (err) {
      throw toUnavailable(err, config, new URL(url).pathname);
    }
  };
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
  let configuration: client.Configuration;
  try {
    configuration = await client.discovery(
      new URL(config.issuer),
      config.clientId,
      { ...(config.clientSecret && { client_secret: config.clientSecret }), [client.clockTolerance]: config.clockTolerance },
      auth,
      { execute, [client.customFetch]: timedFetch(config), timeout: Math.ceil(config.httpTimeout / 1000) + 1 },
    );
  } catch (err) {
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
  assertIdpSupports(config, configuration.serverMetadata());
  return configuration;
}

/** Creates the lazily discovered provider for a configuration. @private */
export function createProvider(config: ResolvedConfig): Provider {
  let cached: Promise<client.Configuration> | undefined;
  let failedAt = 0;
  let lastError: unknown;
  let jwks: JWTVerifyGetKey | undefined;
  return {
    async keys() {
      if (jwks) return jwks;
      const uri = (await this.get()).serverMetadata().jwks_uri;
      if (!uri) {
        throw new IdpUnavailableError('idp_bad_response', 502, 'The identity provider publishes no jwks_uri: its ID tokens cannot be verified.');
      }
      jwks = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: config.httpTimeout,
        cooldownDuration: 0,
        cacheMaxAge: 10 * 60 * 1000,
        [joseCustomFetch]: timedFetch(config) as never,
      });
      return jwks;
    },
    get() {
      if (cached) return cached;
      if (lastError && Date.now() - failedAt < RETRY_AFTER_FAILURE_MS) return Promise.reject(lastError);
      const attempt = discover(config);
      cached = attempt;
      attempt.then(
        () => {
          lastError = undefined;
        },
        (err: unknown) => {
          // Drop the failed promise so the next request retries discovery.
          cached = undefined;
          lastError = err;
          failedAt = Date.now();
        },
      );
      return attempt;
    },
  };
}

