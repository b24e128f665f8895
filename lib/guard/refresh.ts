/**
 * Single-flight token refresh (RFC 6749 §6). Concurrent requests of one session that all find the access token
 * expired share one refresh grant, so an IdP that rotates refresh tokens never sees the old one twice.
 */
import type { Request } from 'express';
import * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';
import { OAuthLoginError, SessionStoreError, TokenValidationError, findCause } from '../errors.js';
import { dpopOptions } from '../idp/dpop.js';
import { verifyIdTokenSignature } from '../idp/id-token.js';
import { signedIdToken } from '../idp/jwe.js';
import { withoutIdToken } from '../idp/oauth2-profile.js';
import { transientRefreshError } from '../idp/protocol-errors.js';
import type { Provider } from '../idp/provider.js';
import { tenantConfiguration } from '../idp/tenants.js';
import { toStoredTokens } from '../idp/tokens.js';
import { coordinationClient, coordinationKey } from '../session/redis.js';
import { sharedRefresh } from '../session/refresh-lock.js';
import type { StoredUser } from '../session/state.js';
import type { Context } from '../routes/context.js';
import { type RefreshOutcomeKind, providerLabel, recordRefresh } from '../telemetry.js';
import type { StoredTokens } from '../types.js';

/** The outcome of a refresh: new tokens, or `undefined` when the grant is gone and the session must end. */
export type RefreshOutcome = StoredTokens | undefined;

/** @private */
export interface Refresher {
  /**
   * Refreshes `user`'s tokens; concurrent calls for the same refresh token share one grant, across instances too
   * when `req` leads to a Redis client.
   */
  refresh(user: StoredUser, req?: Request): Promise<RefreshOutcome>;
}

/** True when the access token has expired or will within `skew` seconds. @private */
export function needsRefresh(tokens: StoredTokens, skew: number): boolean {
  return tokens.expiresAt !== undefined && tokens.expiresAt - skew <= nowSeconds();
}

async function grant(provider: Provider, config: ResolvedConfig, user: StoredUser): Promise<RefreshOutcome> {
  const refreshToken = user.tokens.refreshToken;
  if (!refreshToken) return undefined;
  // A multi-tenant issuer: the user's own tenant's issuer, so a refreshed ID token of another tenant is refused.
  const base = await provider.get();
  const configuration = user.tenant === undefined ? base : await tenantConfiguration(config, base, user.tenant);
  try {
    // DPoP-bound refresh tokens need a proof with the login's key (RFC 9449 §5).
    const granted = await client.refreshTokenGrant(configuration, refreshToken, undefined, await dpopOptions(configuration, user.dpop));
    // Plain OAuth 2.0: an ID token is neither expected nor verified, so none is kept.
    const oidc = config.protocol === 'oidc';
    const response = oidc ? granted : withoutIdToken(granted);
    const claims = oidc ? granted.claims() : undefined;
    // An encrypted ID token is checked in its decrypted, signed form (and refused unencrypted when required).
    const idToken = oidc ? signedIdToken(config, response) : undefined;
    if (idToken) await verifyIdTokenSignature(idToken, config, provider);
    // OIDC Core §12.2: a refreshed ID token must be about the same user.
    if (claims && (claims.sub !== user.sub || (user.tenant !== undefined && claims.tid !== user.tenant))) {
      throw new TokenValidationError('id_token_invalid', 401, 'The refreshed ID token is about a different user.');
    }
    return toStoredTokens(response, user.tokens, idToken);
  } catch (err) {
    // The IdP being down, overloaded or behind a broken proxy is not a reason to log the user out: report it and
    // keep the session with its refresh token, so the next request tries again (protocol-errors.ts sorts the kinds).
    const transient = transientRefreshError(err);
    if (transient) throw transient;
    if (err instanceof OAuthLoginError && !(err instanceof TokenValidationError)) throw err;
    // invalid_grant (revoked, expired, reused), a refreshed ID token about someone else or badly signed: the tokens
    // are no good any more.
    return undefined;
  }
}

/**
 * The refresh outcome of one request (README "Observability"): by the grant's result when this request ran it,
 * `coalesced` when it got another request's outcome (in process, or through Redis from another instance, a failed
 * one included), `transient_failure` when it got none (the IdP or the store unreachable).
 * @private
 */
export function refreshOutcomeKind(ranGrant: boolean, result: { tokens: RefreshOutcome } | { error: unknown }): RefreshOutcomeKind {
  if ('tokens' in result) return ranGrant ? (result.tokens ? 'refreshed' : 'ended') : 'coalesced';
  return ranGrant || findCause(result.error, SessionStoreError) ? 'transient_failure' : 'coalesced';
}

/** Counts the outcome of `attempt` for this request once it settles (telemetry.ts; nothing without OpenTelemetry). */
function observe(provider: string, attempt: Promise<RefreshOutcome>, ranGrant: () => boolean): void {
  attempt.then(
    (tokens) => recordRefresh(provider, refreshOutcomeKind(ranGrant(), { tokens })),
    (error: unknown) => recordRefresh(provider, refreshOutcomeKind(ranGrant(), { error })),
  );
}

/** How long an outcome answers late requests of the session that still present the old refresh token. */
const REMEMBER_OUTCOME_MS = 60_000;

/**
 * Creates the single-flight refresher: per process always, and across instances when the request has a Redis
 * client for coordination (see coordinationClient in session/redis.ts).
 * @private
 */
export function createRefresher(provider: Provider, config: ResolvedConfig): Refresher {
  // Per refresh token: the grant under way, then its outcome for a while, for requests of the same session that
  // loaded it before the new tokens were saved (as the Redis lock shares it across instances).
  const inflight = new Map<string, Promise<RefreshOutcome>>();
  // Long enough for the grant and a JWKS fetch, each bounded by httpTimeout.
  const lockMs = 2 * config.httpTimeout + 1000;
  const label = providerLabel(config);
  return {
    refresh(user, req) {
      const key = user.tokens.refreshToken;
      if (!key) {
        recordRefresh(label, 'ended');
        return Promise.resolve(undefined);
      }
      const running = inflight.get(key);
      if (running) {
        observe(label, running, () => false);
        return running;
      }
      const shared = req && coordinationClient(config, req);
      let ranGrant = false;
      const run = () => {
        ranGrant = true;
        return grant(provider, config, user);
      };
      const attempt = shared ? sharedRefresh(shared, (id, part) => coordinationKey(config, 'refresh', id, part), key, lockMs, run) : run();
      observe(label, attempt, () => ranGrant);
      inflight.set(key, attempt);
      const forget = () => {
        if (inflight.get(key) === attempt) inflight.delete(key);
      };
      // A failure is forgotten at once (the next request tries again), and so is an outcome that kept the refresh
      // token (the next expiry needs a new grant with it). A rotated one is kept as long as Redis keeps it.
      attempt.then((tokens) => (tokens && tokens.refreshToken !== key ? setTimeout(forget, REMEMBER_OUTCOME_MS).unref() : forget()), forget);
      return attempt;
    },
  };
}

const refreshers = new WeakMap<Context, Refresher>();

/** The refresher of an `oauthLogin()` instance, made on its first refresh and shared by all its requests. @private */
export function refresherOf(ctx: Context): Refresher {
  let refresher = refreshers.get(ctx);
  if (!refresher) refreshers.set(ctx, (refresher = createRefresher(ctx.provider, ctx.config)));
  return refresher;
}
