/**
 * Turns what openid-client throws into our error classes, so every protocol failure answers with the right
 * status and a message that helps. Messages carry the IdP's error code and the failed check, never a token.
 */
import * as client from 'openid-client';
import {
  IdpError,
  IdpUnavailableError,
  LoginStateError,
  OAuthLoginError,
  TokenEndpointError,
  TokenValidationError,
  findCause,
} from '../errors.js';
import { isFetchResponse } from './response.js';

/** RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error codes that mean "the user did not get through". */
const STATUS_BY_IDP_ERROR: Record<string, number> = {
  access_denied: 403,
  login_required: 401,
  consent_required: 401,
  interaction_required: 401,
  account_selection_required: 401,
};

/** OIDC Core §3.1.2.6: the errors of a `prompt=none` request that mean "the user would have to interact". */
const INTERACTION_ERRORS = ['login_required', 'interaction_required', 'consent_required', 'account_selection_required'];

/** True when `err` is an authorization response error that a silent login treats as "stay anonymous". @private */
export function isInteractionRequired(err: unknown): boolean {
  return err instanceof client.AuthorizationResponseError && INTERACTION_ERRORS.includes(err.error);
}

/** IdP-provided text is shown to users: keep it short and printable. */
function clean(text: unknown, max = 200): string {
  if (typeof text !== 'string') return '';
  const printable = text.replace(/[^\x20-\x7e]/g, '').trim();
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

function innermostMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) message = e.message;
  return clean(message);
}

/**
 * Maps an error from the authorization response or token exchange of the callback.
 * @private
 */
export function callbackError(err: unknown): unknown {
  if (err instanceof OAuthLoginError) return err;
  const transport = findCause(err, IdpUnavailableError);
  if (transport) return transport;
  if (err instanceof client.AuthorizationResponseError) {
    const description = clean(err.error_description);
    return new IdpError(
      clean(err.error, 64),
      STATUS_BY_IDP_ERROR[err.error] ?? 400,
      `The identity provider did not sign you in (${clean(err.error, 64)}${description ? `: ${description}` : ''}). ` +
        'You can start again.',
      { cause: err },
    );
  }
  if (err instanceof client.ResponseBodyError || err instanceof client.WWWAuthenticateChallengeError) return tokenEndpointError(err);
  if (err instanceof client.ClientError || findCause(err, client.ClientError)) {
    const detail = innermostMessage(err);
    if (/response parameter|"code"|"state"/.test(detail)) {
      // RFC 9207 issuer check and authorization response shape: nothing was redeemed.
      return new LoginStateError('callback_invalid', 400, `The sign-in response is invalid (${detail}). Start again.`, {
        cause: err,
      });
    }
    if (/unexpected (HTTP response status|response content-type)|parsing error/.test(err instanceof Error ? err.message : '')) {
      return new IdpUnavailableError(
        'idp_bad_response',
        502,
        'The identity provider answered with something that is not a valid token response. Please try again later.',
        { cause: err },
      );
    }
    return new TokenValidationError('id_token_invalid', 401, `The identity provider's tokens failed validation (${detail}).`, {
      cause: err,
    });
  }
  return err;
}

/**
 * A token endpoint error response (RFC 6749 §5.2), in the body or, for a 401 to a client authenticating with HTTP
 * Basic (or DPoP), in the WWW-Authenticate header (RFC 6750 §3, RFC 9449 §7.1).
 * @private
 */
export function tokenEndpointError(err: client.ResponseBodyError | client.WWWAuthenticateChallengeError): TokenEndpointError {
  const code =
    clean(err instanceof client.WWWAuthenticateChallengeError ? err.cause.find((c) => c.parameters.error)?.parameters.error : err.error, 64) ||
    'invalid_request';
  const hint =
    code === 'invalid_client'
      ? 'The app could not authenticate to the identity provider: check clientId, clientSecret and tokenEndpointAuthMethod.'
      : 'Start the sign-in again.';
  return new TokenEndpointError(code, `The identity provider refused the token request (${code}). ${hint}`, { cause: err });
}

/**
 * Token endpoint errors that say "not now" rather than "no": RFC 6749 §4.1.2.1 defines `temporarily_unavailable`
 * and `server_error` for the authorization endpoint, and IdPs answer token requests with them too.
 */
const TRANSIENT_OAUTH_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

/** openid-client's codes for a response that is not a token response at all (an HTML error page, broken JSON). */
const NOT_A_TOKEN_RESPONSE = new Set(['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR']);

/** A status that says "come back later" with or without an OAuth error body (RFC 9110 §15.6, RFC 6585 §4). */
const isBusy = (status: number) => status >= 500 || status === 429;

/** The HTTP status of a response that was no token response, when openid-client reports one (its code, status). */
function notATokenResponse(err: unknown): { status?: number } | undefined {
  let found = false;
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (isFetchResponse(e)) return { status: e.status };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_A_TOKEN_RESPONSE.has(code)) found = true;
  }
  return found ? {} : undefined;
}

function unavailable(detail: string, err: unknown): IdpUnavailableError {
  return new IdpUnavailableError(
    'idp_unavailable',
    503,
    `The identity provider is temporarily unavailable${detail}: you are still signed in. Please try again in a moment.`,
    { cause: err },
  );
}

/**
 * Sorts a failed refresh grant (RFC 6749 §6) by kind. A transient failure comes back as the IdpUnavailableError the
 * request answers with, and the session and its refresh token are kept for the next request to try again:
 * - the IdP unreachable or the connection reset (502 `idp_unavailable`), too slow (504 `idp_timeout`);
 * - a 5xx or 429 with whatever body (a load balancer's HTML page too), or `temporarily_unavailable` /
 *   `server_error` at any status (503 `idp_unavailable`);
 * - a body that is no token response, such as an HTML page with status 200 or broken JSON (502 `idp_bad_response`).
 * `undefined` means a definitive refusal (`invalid_grant` and the other RFC 6749 §5.2 errors, a 400 or 401 without
 * an error body, an ID token for
 * another sub/iss/aud, a bad signature): the grant is gone and the session ends.
 * @private
 */
export function transientRefreshError(err: unknown): IdpUnavailableError | undefined {
  const transport = findCause(err, IdpUnavailableError);
  if (transport) return transport;
  const refused = findCause(err, client.ResponseBodyError) ?? findCause(err, client.WWWAuthenticateChallengeError);
  if (refused) {
    const code = refused instanceof client.ResponseBodyError ? refused.error : '';
    if (!isBusy(refused.status) && !TRANSIENT_OAUTH_ERRORS.has(code)) return undefined;
    return unavailable(code ? ` (${clean(code, 64)})` : '', err);
  }
  const other = notATokenResponse(err);
  if (other?.status !== undefined && isBusy(other.status)) return unavailable(` (HTTP ${other.status})`, err);
  // 400 and 401 are the statuses of a refusal (RFC 6749 §5.2), with or without its JSON body: Glewlwyd 2.7 answers
  // a spent refresh token with a bare 400. The grant is gone; retrying would only present the token again.
  if (other?.status === 400 || other?.status === 401) return undefined;
  if (other) {
    return new IdpUnavailableError(
      'idp_bad_response',
      502,
      'The identity provider answered the token refresh with something that is not a token response (an error page?): ' +
        'you are still signed in. Please try again in a moment.',
      { cause: err },
    );
  }
  return undefined;
}
