/**
 * What happens between a validated token response and the stored user: the step-up requirement of the pending
 * login (`acr`; openid-client already checked `auth_time` against `max_age`), the optional UserInfo fetch with its
 * `sub` check, and the app's afterCallback hook, which may reshape the user or refuse the login.
 */
import type { Request } from 'express';
import * as client from 'openid-client';
import type { Context } from './context.js';
import { type StoredDpopKey, dpopOptions } from './dpop.js';
import { ForbiddenError, IdpUnavailableError, TokenValidationError, findCause } from './errors.js';
import { type PendingLogin, type StoredTokens, type StoredUser, nowSeconds } from './session-state.js';

/** What afterCallback may return: false to refuse the login, or the claims to store (replacing them). @public */
export type AfterCallbackResult = boolean | void | { claims: Record<string, unknown> };

/**
 * The `afterCallback(req, tokens, claims)` hook: runs after every check passed and before the session is created.
 * `tokens` is the token response (do not log it); `claims` are the ID token claims merged with UserInfo claims.
 * Return `false` to refuse the login (403 `login_rejected`), `{ claims }` to store different claims, or nothing.
 * @public
 */
export type AfterCallback = (
  req: Request,
  tokens: client.TokenEndpointResponse,
  claims: Record<string, unknown>,
) => AfterCallbackResult | Promise<AfterCallbackResult>;

/** ID token claims that describe the authentication itself: UserInfo may not override them (OIDC Core §5.3.2). */
const AUTHENTICATION_CLAIMS = ['sub', 'iss', 'acr', 'amr', 'auth_time', 'sid'];

async function userinfoClaims(ctx: Context, accessToken: string, sub: string, dpop?: StoredDpopKey): Promise<Record<string, unknown>> {
  const configuration = await ctx.provider.get();
  try {
    // openid-client refuses a UserInfo response whose sub differs from the ID token's (OIDC Core §5.3.4).
    return (await client.fetchUserInfo(configuration, accessToken, sub, await dpopOptions(configuration, dpop))) as Record<string, unknown>;
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    // oauth4webapi's error codes, which openid-client keeps on the errors it throws.
    const code = (err as { code?: unknown }).code;
    if (err instanceof client.ResponseBodyError || ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'].includes(String(code))) {
      throw new IdpUnavailableError(
        'idp_bad_response',
        502,
        'The identity provider\'s UserInfo endpoint answered with an error or something that is not JSON claims. Please try again later.',
        { cause: err },
      );
    }
    throw new TokenValidationError(
      'userinfo_invalid',
      401,
      code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED'
        ? 'The identity provider\'s UserInfo response is about a different user than the ID token. Start again.'
        : 'The identity provider\'s UserInfo response was refused (its claims are invalid). Start again.',
      { cause: err },
    );
  }
}

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
  const acr = typeof idTokenClaims.acr === 'string' ? idTokenClaims.acr : undefined;
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
    const extra = await userinfoClaims(ctx, tokens.access_token, sub, pending.dpop);
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
  return {
    sub,
    claims,
    tokens: stored,
    loginAt: now,
    seenAt: now,
    ...(typeof idTokenClaims.sid === 'string' && { sid: idTokenClaims.sid }),
    ...(acr !== undefined && { acr }),
    ...(typeof idTokenClaims.auth_time === 'number' && { authTime: idTokenClaims.auth_time }),
  };
}
