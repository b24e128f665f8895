/**
 * GET /login: starts an authorization code flow (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and, for OpenID Connect,
 * a nonce (a plain OAuth 2.0 login has no ID token to bind it to). The pending login lives in the server-side session keyed by its `state`, so several tabs can log in at once.
 * It remembers the issuer it was sent to, so a response can only complete a login at the same IdP (mix-up defense,
 * RFC 9700 §4.4).
 */
import type { Request, RequestHandler, Response } from 'express';
import type * as client from 'openid-client';
import { nowSeconds } from '../clock.js';
import { passError } from '../errors.js';
import { authorizationUrl } from '../idp/authorization-request.js';
import { newDpopKey } from '../idp/dpop.js';
import { pkceS256Challenge, randomValue } from '../idp/pkce.js';
import { warnAboutCookie } from '../session/cookie.js';
import { saveSession } from '../session/persistence.js';
import { serializedUpdate } from '../session/serialized-update.js';
import { type PendingLogin, addPendingLogin, sessionOf } from '../session/state.js';
import { providerLabel, recordLoginStartFailure, telemetryEnabled } from '../telemetry.js';
import type { Context } from './context.js';
import { redirectNoStore } from './redirect.js';
import { safeReturnTo } from './return-to.js';

/** What a login started by the middleware itself (step-up, silent login) asks for beyond a plain login. @private */
export interface LoginRequest {
  /** A path already checked by safeReturnTo. */
  returnTo: string;
  /** Step-up: `acr_values` to request and require on return (OIDC Core §3.1.2.1). */
  acr?: string;
  /** Step-up: `max_age` in seconds; the returned `auth_time` must be within it. */
  maxAge?: number;
  /** `prompt=none`: an interaction error at the callback returns to `returnTo` anonymously. */
  silent?: boolean;
}

/**
 * Records a pending login in the session and redirects the browser to the authorization endpoint.
 * @private
 */
export async function startLogin(ctx: Context, req: Request, res: Response, request: LoginRequest): Promise<void> {
  try {
    await redirectToIdp(ctx, req, res, request);
  } catch (err) {
    // A login that ends before the IdP ever sees it is a failed login too (README "Observability").
    recordLoginStartFailure(providerLabel(ctx.config), request, err);
    throw err;
  }
}

async function redirectToIdp(ctx: Context, req: Request, res: Response, request: LoginRequest): Promise<void> {
  const { config } = ctx;
  const session = sessionOf(req);
  warnAboutCookie(session, config.secureCookies, req.secure);
  const configuration = await ctx.provider.get();
  // 256-bit values from node:crypto's CSPRNG, as openid-client's helpers make them (idp/pkce.ts says why).
  const state = randomValue();
  // A nonce binds an ID token to this login (OIDC Core §3.1.2.1); plain OAuth 2.0 has none to bind.
  const nonce = config.protocol === 'oidc' ? randomValue() : undefined;
  const codeVerifier = randomValue();
  const codeChallenge = pkceS256Challenge(codeVerifier);
  const pending: PendingLogin = { ...(nonce !== undefined && { nonce }), codeVerifier, returnTo: request.returnTo, createdAt: nowSeconds(), issuer: config.issuer };
  if (config.name !== undefined) pending.provider = config.name;
  if (telemetryEnabled()) pending.startedAt = Date.now();
  const extra: Record<string, string> = {};
  if (request.acr !== undefined) extra.acr_values = pending.acr = request.acr;
  if (request.maxAge !== undefined) {
    pending.maxAge = request.maxAge;
    extra.max_age = String(request.maxAge);
  }
  // maxSessionLifetime: ask the IdP for a sign-in at most that old (OIDC Core §3.1.2.1), or the session would end
  // as soon as it starts (session/lifetime.ts counts the ceiling from auth_time).
  if (config.maxSessionLifetime !== undefined && !(request.maxAge !== undefined && request.maxAge <= config.maxSessionLifetime)) {
    extra.max_age = String(config.maxSessionLifetime);
  }
  if (request.silent) {
    pending.silent = true;
    extra.prompt = 'none';
  }
  // form_post and the JARM modes (jwt, query.jwt, form_post.jwt) are asked for by name.
  if (config.responseMode !== 'query') extra.response_mode = config.responseMode;
  let dpop: client.DPoPHandle | undefined;
  if (config.dpop) {
    // A key pair per login; dpop_jkt binds the code to it even without PAR (RFC 9449 §10).
    const key = await newDpopKey(configuration);
    dpop = key.handle;
    pending.dpop = key.stored;
    extra.dpop_jkt = await dpop.calculateThumbprint();
  }
  // Pushed (PAR) before the pending login is stored, so a refused push leaves nothing behind.
  const url = await authorizationUrl(config, configuration, {
    ...config.authorizationParams,
    ...extra,
    redirect_uri: config.redirectUri,
    scope: config.scope,
    state,
    ...(nonce !== undefined && { nonce }),
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
  }, dpop);
  await serializedUpdate(req, async () => {
    addPendingLogin(sessionOf(req), state, pending, { max: config.maxPendingLogins, ttl: config.loginTimeout });
    // Saved before the redirect: the callback may arrive at another instance before this response ends.
    await saveSession(req);
  });
  redirectNoStore(res, 302, url.href);
}

/** @private */
export function loginHandler(ctx: Context): RequestHandler {
  return async (req, res, next) => {
    try {
      await startLogin(ctx, req, res, { returnTo: safeReturnTo(req.query.returnTo, ctx.config.basePath) });
    } catch (err) {
      passError(req, next, err);
    }
  };
}
