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
