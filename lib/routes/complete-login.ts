/**
 * What happens between a validated token response and the stored user: the step-up requirement of the pending
 * login (`acr`; openid-client already checked `auth_time` against `max_age`), the optional UserInfo fetch with its
 * `sub` check, and the app's afterCallback hook, which may reshape the user or refuse the login.
 */
import type { Request } from 'express';
import type * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import { ForbiddenError, TokenValidationError } from '../errors.js';
import { userinfoClaims } from '../idp/userinfo.js';
import { sessionLifetime } from '../session/lifetime.js';
import { newLogoutToken } from '../session/logout-state.js';
import type { PendingLogin, StoredUser } from '../session/state.js';
import type { StoredTokens } from '../types.js';
import type { Context } from './context.js';

/** ID token claims that describe the authentication itself: UserInfo may not override them (OIDC Core §5.3.2). */
const AUTHENTICATION_CLAIMS = ['sub', 'iss', 'acr', 'amr', 'auth_time', 'sid'];

/**
 * Applies the pending login's step-up requirement, UserInfo and afterCallback, and returns the user to store.
 * @throws {ForbiddenError} `step_up_failed` or `login_rejected`; {TokenValidationError} `userinfo_invalid`.
 * @private
 */
export async function completeLogin(
  ctx: Context,
  req: Request,
  tokens: client.TokenEndpointResponse,
  stored: StoredTokens,
  idTokenClaims: Record<string, unknown>,
  pending: PendingLogin,
): Promise<StoredUser> {
  const sub = idTokenClaims.sub as string;
  // A profile API's answer (plain OAuth 2.0) is no statement about the authentication: acr, auth_time and sid
  // count only when they come from a validated ID token.
  const authn: Record<string, unknown> = ctx.config.protocol === 'oidc' ? idTokenClaims : {};
  const acr = typeof authn.acr === 'string' ? authn.acr : undefined;
  // OIDC Core §3.1.2.1: acr_values is a voluntary request, so the IdP may well answer with a weaker login.
  // Refusing it here (and keeping the previous session) is what prevents a step-up redirect loop.
  if (pending.acr !== undefined && (acr === undefined || !pending.acr.split(' ').includes(acr))) {
    throw new ForbiddenError(
      'This page needs a stronger sign-in than the identity provider performed. Contact your administrator if you cannot use the required method.',
      'step_up_failed',
    );
  }
  let claims = idTokenClaims;
  if (ctx.config.fetchUserinfo) {
    const extra = await userinfoClaims(ctx.config, ctx.provider, tokens.access_token, sub, pending.dpop);
    claims = { ...claims, ...extra, ...Object.fromEntries(AUTHENTICATION_CLAIMS.filter((k) => k in idTokenClaims).map((k) => [k, idTokenClaims[k]])) };
  }
  if (ctx.config.afterCallback) {
    // A hook that throws is an app bug: its error goes to next(err) like any other, and nothing is stored.
    const verdict = await ctx.config.afterCallback(req, tokens, claims);
    if (verdict === false) {
      throw new ForbiddenError('This account is not allowed to sign in to this app.', 'login_rejected');
    }
    if (typeof verdict === 'object' && verdict !== null && typeof verdict.claims === 'object' && verdict.claims !== null) {
      claims = verdict.claims;
    }
  }
  const now = nowSeconds();
  const user: StoredUser = {
    sub,
    claims,
    tokens: stored,
    loginAt: now,
    seenAt: now,
    ...(typeof authn.sid === 'string' && { sid: authn.sid }),
    ...(acr !== undefined && { acr }),
    ...(typeof authn.auth_time === 'number' && { authTime: authn.auth_time }),
    // Made with the login, so rendering logoutUrl(req) later never has to write the session.
    logoutToken: newLogoutToken(),
  };
  assertUpstreamSessionAlive(ctx, user, now);
  return user;
}

/**
 * A session born dead would send the browser straight back to the IdP, which would answer the same: refuse the
 * login instead when the upstream session has already ended, by the IdP's `session_expiry` (IPSIE) or by
 * `maxSessionLifetime` after `auth_time` (login.ts sends it as max_age, so only an IdP that ignores max_age gets here).
 */
function assertUpstreamSessionAlive(ctx: Context, user: StoredUser, now: number): void {
  if ((sessionLifetime({ oauth: { user } }, ctx.config, now) ?? 1) > 0) return;
  const byIdp = user.tokens.sessionExpiry !== undefined && user.tokens.sessionExpiry <= now;
  throw new TokenValidationError(
    'id_token_invalid',
    401,
    byIdp
      ? "The identity provider's session has already ended (session_expiry): sign in at the identity provider again."
      : 'Your sign-in at the identity provider is older than this app allows (maxSessionLifetime): sign in at the identity provider again.',
  );
}
