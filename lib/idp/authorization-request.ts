/**
 * Sends the browser's authorization request: as a plain redirect with the parameters in the URL, or pushed first
 * over the back channel (PAR, RFC 9126) so the redirect carries only an opaque `request_uri`. Pushing keeps the
 * parameters away from the browser (no tampering, no leaking through history) and authenticates the client before
 * the user sees anything (RFC 9126 §1). With DPoP the push carries a proof, binding the code to the key (RFC 9449 §10).
 * With `requestObject: true` the parameters travel as one request object signed with clientPrivateKey (JAR,
 * RFC 9101 §4), by value in the redirect or inside the push (§5, RFC 9126 §3): the IdP can then tell that they come
 * from the client unaltered. openid-client builds and signs it (iss, aud, exp, iat, nbf, jti, client_id, typ
 * oauth-authz-req+jwt).
 */
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpError, IdpUnavailableError, findCause } from '../errors.js';
import { clientSigningKey } from './client-auth.js';
import { serverMetadataOf } from './metadata.js';
import { usesPar } from './support.js';

function clean(text: unknown): string {
  return typeof text === 'string' ? text.replace(/[^\x20-\x7e]/g, '').slice(0, 64) : '';
}

/** Maps a refused push to a 502 that names the IdP's error code; transport trouble stays 502/504. */
function parError(err: unknown): unknown {
  const transport = findCause(err, IdpUnavailableError);
  if (transport) return transport;
  let code = '';
  if (err instanceof client.ResponseBodyError) code = clean(err.error);
  else if (err instanceof client.WWWAuthenticateChallengeError) code = clean(err.cause.find((c) => c.parameters.error)?.parameters.error);
  else return err;
  return new IdpError(
    code || 'invalid_request',
    502,
    `The identity provider refused the pushed authorization request (${code || 'no error code'}). ` +
      'Check clientId, the client authentication settings and the client registration at the identity provider.',
    { cause: err },
  );
}

/**
 * The URL to send the browser to: pushed (PAR) when configured or required by the IdP, else the parameters in the
 * query. `dpop` adds a proof to the push.
 * @private
 */
export async function authorizationUrl(
  config: ResolvedConfig,
  configuration: client.Configuration,
  params: Record<string, string>,
  dpop?: client.DPoPHandle,
): Promise<URL> {
  const pushed = usesPar(config, serverMetadataOf(configuration));
  if (config.requestObject) {
    const signed = await client.buildAuthorizationUrlWithJAR(configuration, params, await clientSigningKey(config.clientKey!));
    if (!pushed) return signed;
    // client_id and request: pushed as they are (RFC 9126 §3).
    params = Object.fromEntries(signed.searchParams);
  } else if (!pushed) {
    return client.buildAuthorizationUrl(configuration, params);
  }
  try {
    // openid-client retries once with a fresh nonce when the IdP answers use_dpop_nonce (RFC 9449 §8).
    return await client.buildAuthorizationUrlWithPAR(configuration, params, dpop ? { DPoP: dpop } : undefined);
  } catch (err) {
    throw parError(err);
  }
}
