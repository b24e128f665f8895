/**
 * Token revocation (RFC 7009) when a session ends: the refresh token, so it cannot outlive the logout, and the
 * access token while it is still valid (§2.1 asks the IdP to drop the grant's access tokens with the refresh token,
 * but not every IdP does, and a bearer access token is usable until it expires). Sent to the IdP's
 * `revocation_endpoint` (RFC 8414 §2) by openid-client, with the client's own authentication method.
 *
 * Revocation never holds up or fails the logout it belongs to: it is bounded by `httpTimeout` as a whole, never
 * throws, and reports each failure as a RevocationError for the caller to emit as an `error` event. The one entry
 * point, {@link revokeTokens}, serves the logout route and any other way a session ends (log out everywhere, ending
 * sessions from admin code).
 */
import * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, RevocationError, findCause } from '../errors.js';
import type { StoredTokens } from '../types.js';
import type { Provider } from './provider.js';
import { isFetchResponse } from './response.js';

/** What revocation needs from an `oauthLogin()` instance (its routes' context fits). @private */
export interface RevocationContext {
  config: Pick<ResolvedConfig, 'httpTimeout' | 'revokeTokens'>;
  provider: Provider;
}

/** RFC 7009 §2.1 `token_type_hint` values. @private */
export type RevokedKind = 'refresh_token' | 'access_token';

/** The outcome of {@link revokeTokens}. @private */
export interface RevocationResult {
  /** The kinds of token the IdP confirmed revoked (HTTP 200, §2.2). */
  revoked: RevokedKind[];
  /** One error per token that could not be revoked (never carries the token); emit them as `error` events. */
  failures: RevocationError[];
  /** Why nothing was sent: switched off, no revocation_endpoint advertised, or nothing worth revoking. */
  skipped?: 'disabled' | 'unsupported' | 'nothing_to_revoke';
}

const LABEL: Record<RevokedKind, string> = { refresh_token: 'refresh token', access_token: 'access token' };

/** The tokens worth revoking: the refresh token, and the access token unless it has already expired. */
function revocable(tokens: StoredTokens): Array<[RevokedKind, string]> {
  const list: Array<[RevokedKind, string]> = [];
  if (tokens.refreshToken) list.push(['refresh_token', tokens.refreshToken]);
  if (tokens.accessToken && (tokens.expiresAt === undefined || tokens.expiresAt > nowSeconds())) list.push(['access_token', tokens.accessToken]);
  return list;
}

/** The HTTP response an openid-client error carries (an unexpected status keeps it as its cause), if any. */
function responseIn(err: unknown): Response | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) if (isFetchResponse(e)) return e;
  return undefined;
}

/** Says why a revocation failed, in words that name the token kind and the IdP's answer, never the token. */
function failure(kind: RevokedKind, err: unknown, timeoutMs: number): RevocationError {
  const transport = findCause(err, IdpUnavailableError);
  let why: string;
  if (transport?.code === 'idp_timeout') why = `no answer within ${timeoutMs} ms`;
  else if (transport) why = 'the endpoint could not be reached';
  else if (err instanceof client.ResponseBodyError) why = `it answered HTTP ${err.status} ${String(err.error).replace(/[^\x20-\x7e]/g, '').slice(0, 64)}`;
  else if (err instanceof client.WWWAuthenticateChallengeError) why = `it answered HTTP ${err.status} (client authentication refused)`;
  else if (responseIn(err)) why = `it answered HTTP ${responseIn(err)!.status}`;
  else why = 'its answer was not usable';
  return new RevocationError(
    `Revoking the ${LABEL[kind]} at the identity provider failed (${why}); it stays valid until it expires. The logout itself went ahead.`,
    { cause: err },
  );
}

/**
 * Revokes a session's tokens at the IdP (RFC 7009 §2.1), in parallel, the whole call bounded by `httpTimeout`.
 * Resolves, never rejects: a hanging or failing endpoint shows up in `failures`.
 * @private
 */
export async function revokeTokens(ctx: RevocationContext, tokens: StoredTokens): Promise<RevocationResult> {
  if (!ctx.config.revokeTokens) return { revoked: [], failures: [], skipped: 'disabled' };
  const list = revocable(tokens);
  if (list.length === 0) return { revoked: [], failures: [], skipped: 'nothing_to_revoke' };
  const timeoutMs = ctx.config.httpTimeout;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  const work = (async (): Promise<RevocationResult> => {
    let configuration: client.Configuration;
    try {
      configuration = await ctx.provider.get();
    } catch (err) {
      return { revoked: [], failures: list.map(([kind]) => failure(kind, err, timeoutMs)) };
    }
    if (!configuration.serverMetadata().revocation_endpoint) return { revoked: [], failures: [], skipped: 'unsupported' };
    const settled = await Promise.allSettled(list.map(([kind, token]) => client.tokenRevocation(configuration, token, { token_type_hint: kind })));
    const result: RevocationResult = { revoked: [], failures: [] };
    settled.forEach((outcome, i) => {
      const kind = list[i]![0];
      if (outcome.status === 'fulfilled') result.revoked.push(kind);
      else result.failures.push(failure(kind, outcome.reason, timeoutMs));
    });
    return result;
  })();
  try {
    const first = await Promise.race([work, deadline]);
    if (first !== 'timeout') return first;
    const timedOut = new IdpUnavailableError('idp_timeout', 504, 'revocation timed out');
    return { revoked: [], failures: list.map(([kind]) => failure(kind, timedOut, timeoutMs)) };
  } finally {
    clearTimeout(timer);
  }
}
