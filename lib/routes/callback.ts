/**
 * The redirect URI: matches the response to the login this browser started (by `state`, single use), redeems the
 * code with the client secret and the PKCE verifier, validates the ID token (plain OAuth 2.0: asks the profile API
 * who the user is, idp/oauth2-profile.ts), then regenerates the session id and stores the user. The response is
 * always a redirect or an error page, never a page that keeps `?code=` visible.
 */
import type { RequestHandler } from 'express';
import type * as client from 'openid-client';
import { LoginStateError, passError } from '../errors.js';
import { emit } from '../events.js';
import { assertDpopBound, dpopOptions } from '../idp/dpop.js';
import { acceptIdToken } from '../idp/id-token.js';
import { oauth2Identity, withoutIdToken } from '../idp/oauth2-profile.js';
import { signedIdToken } from '../idp/jwe.js';
import { callbackError, isInteractionRequired } from '../idp/protocol-errors.js';
import { assertTenantAllowed, codeGrant } from '../idp/tenants.js';
import { toStoredTokens } from '../idp/tokens.js';
import { claimPendingLogin, regenerateWithUser } from '../session/persistence.js';
import { writeSessionRecord } from '../session/session-records.js';
import { indexSession } from '../session/sid-index.js';
import { sessionOf } from '../session/state.js';
import { observeCallback, providerLabel } from '../telemetry.js';
import { completeLogin } from './complete-login.js';
import { withPostedUser } from './posted-user.js';
import type { Context } from './context.js';
import { CALLBACK_HEADERS, authorizationResponse } from './response-mode.js';

/** @private */
export function callbackHandler(ctx: Context): RequestHandler {
  const { config } = ctx;
  const oidc = config.protocol === 'oidc';
  const who = { provider: providerLabel(config), issuer: config.issuer, userHashKey: config.telemetry.userHashKey };
  // The span and the login metrics (telemetry.ts): `observed` hears the outcome where it is decided below.
  return (req, res, next) => observeCallback(who, async (observed) => {
    // The URL holds a one-time code: keep it out of caches and out of the Referer of whatever comes next.
    res.set(CALLBACK_HEADERS);
    try {
      sessionOf(req);
      // A JARM response is verified here, before its state is used (idp/jarm.ts).
      const { url, params } = await authorizationResponse(req, ctx);
      const state = params.get('state');
      if (!state) {
        throw new LoginStateError(
          'state_missing',
          400,
          'The sign-in response has no state, so it cannot be matched to a sign-in started here. Start again from the app.',
        );
      }
      // Claimed in the store before the code goes anywhere: one redemption per callback, however often it arrives.
      const pending = await claimPendingLogin(req, state, config.loginTimeout);
      if (!pending) {
        throw new LoginStateError(
          'state_unknown',
          400,
          'This sign-in response does not match a sign-in in progress in this browser: it was already used ' +
            '(back button or reload), or cookies were blocked. Start again.',
        );
      }
      observed.matched(pending.login);
      if (pending.expired) {
        throw new LoginStateError('login_expired', 400, 'The sign-in took too long and has expired. Start again.');
      }
      // Mix-up defense (RFC 9700 §4.4): a login started at another IdP cannot finish here.
      if (pending.login.issuer !== undefined && pending.login.issuer !== config.issuer) {
        throw new LoginStateError(
          'callback_invalid',
          400,
          'This sign-in response arrived for a different identity provider than the one the sign-in was started with. Start again.',
        );
      }
      const configuration = await ctx.provider.get();
      let claims: Record<string, unknown>;
      let tokens: client.TokenEndpointResponse;
      let idToken: string | undefined;
      let tenant: string | undefined;
      try {
        const checks: client.AuthorizationCodeGrantChecks = {
          pkceCodeVerifier: pending.login.codeVerifier,
          expectedState: state,
          // Plain OAuth 2.0 (scope without openid): no nonce was sent and no ID token is expected.
          ...(oidc
            ? {
                expectedNonce: pending.login.nonce,
                idTokenExpected: true,
                // Step-up with max_age: openid-client then requires auth_time and checks it (OIDC Core §3.1.2.1).
                ...(pending.login.maxAge !== undefined && { maxAge: pending.login.maxAge }),
              }
            : { idTokenExpected: false }),
        };
        // dpop: true — the code is redeemed with a proof of the login's key (RFC 9449 §5). A multi-tenant issuer
        // also yields the user's tenant, whose issuer the ID token was checked against (idp/tenants.ts).
        const grant = await codeGrant(config, configuration, url, checks, (c) => dpopOptions(c, pending.login.dpop));
        const response = grant.response;
        tenant = grant.tenant;
        assertDpopBound(config, response);
        if (oidc) {
          tokens = response;
          // The decrypted, signed ID token when it came encrypted to the client (clientEncryptionKeys).
          idToken = signedIdToken(config, response);
          claims = await acceptIdToken(idToken, response.claims(), config, ctx.provider);
          if (tenant !== undefined) assertTenantAllowed(config, tenant);
        } else {
          tokens = withoutIdToken(response);
          // No ID token: the profile API says who the user is (idp/oauth2-profile.ts).
          ({ claims } = await oauth2Identity(config, ctx.provider, tokens, pending.login.dpop));
        }
        // Apple's first-login name (posted-user.ts): unsigned, so it only fills claims the ID token lacks.
        if (config.keepPostedUser) claims = withPostedUser(params, claims);
      } catch (err) {
        // prompt=none that needs the user (OIDC Core §3.1.2.6): stay anonymous, back where they were.
        if (pending.login.silent && isInteractionRequired(err)) {
          observed.failed(callbackError(err));
          res.redirect(302, pending.login.returnTo);
          return;
        }
        throw callbackError(err);
      }
      const user = await completeLogin(ctx, req, tokens, toStoredTokens(tokens, undefined, idToken), claims, pending.login);
      if (pending.login.dpop) user.dpop = pending.login.dpop;
      if (config.name !== undefined) user.provider = config.name;
      if (tenant !== undefined) user.tenant = tenant;
      await regenerateWithUser(req, user, async (sessionId) => {
        await indexSession(ctx.config, req, user, sessionId);
        await writeSessionRecord(ctx.config, req, user, sessionId, 'create');
      });
      emit(req, 'login', {
        sub: user.sub,
        ...(user.sid !== undefined && { sid: user.sid }),
        ...(user.acr !== undefined && { acr: user.acr }),
        stepUp: pending.login.acr !== undefined || pending.login.maxAge !== undefined,
        silent: pending.login.silent === true,
      });
      observed.succeeded(user.sub);
      // 303 turns the form_post POST into a GET of returnTo (RFC 9110 §15.4.4).
      res.redirect(req.method === 'POST' ? 303 : 302, pending.login.returnTo);
    } catch (err) {
      observed.failed(err);
      passError(req, next, err);
    }
  });
}
