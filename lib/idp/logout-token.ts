/**
 * The logout token of OpenID Connect Back-Channel Logout 1.0, validated as §2.6 asks: a JWT the IdP signed with an
 * accepted algorithm, for this client, with a logout event, a sid and/or a sub, and no nonce. The replay check
 * (step 7) needs shared memory and lives with the route (routes/backchannel-logout.ts).
 */
import { type JWTPayload, decodeProtectedHeader } from 'jose';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';
import { IdpUnavailableError, LogoutTokenError, findCause } from '../errors.js';
import { isAcceptedAlg, verifyIdpJwt } from './id-token.js';
import type { Provider } from './provider.js';

/** §2.4: the member of `events` that makes a JWT a logout token. */
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How old a logout token without `exp` may be (seconds), and so how long its `jti` must be remembered. */
export const MAX_AGE_WITHOUT_EXP = 300;

/** A validated logout token: who it logs out. @private */
export interface LogoutToken {
  iss: string;
  jti: string;
  exp?: number;
  sub?: string;
  sid?: string;
}

/** A JSON object (not an array). @private */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a logout token (§2.6 steps 1-7; step 7's replay check happens in the handler).
 * @throws {LogoutTokenError}
 * @private
 */
export async function validateLogoutToken(config: ResolvedConfig, provider: Provider, token: unknown): Promise<LogoutToken> {
  if (typeof token !== 'string' || token.length === 0) throw new LogoutTokenError('the logout_token form field is missing');
  let header: { alg?: unknown; typ?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new LogoutTokenError('it is not a signed JWT');
  }
  // §2.6 step 3: the alg is validated as for ID tokens: never "none", only the accepted algorithms.
  if (!isAcceptedAlg(header.alg, config)) {
    throw new LogoutTokenError('its signing algorithm is not accepted');
  }
  // §2.4 explicit typing: another kind of JWT (e.g. an access token) must not pass as a logout token.
  if (header.typ !== undefined && !(typeof header.typ === 'string' && ['logout+jwt', 'JWT', 'application/logout+jwt'].includes(header.typ))) {
    throw new LogoutTokenError('its typ header says it is not a logout token');
  }
  const configuration = await provider.get();
  let payload: JWTPayload;
  try {
    payload = await verifyIdpJwt(token, header.alg, config, provider, {
      issuer: configuration.serverMetadata().issuer,
      audience: config.clientId,
      requiredClaims: ['iat', 'jti', 'events'],
    });
  } catch (err) {
    const transport = findCause(err, IdpUnavailableError);
    if (transport) throw transport;
    const claim = (err as { claim?: unknown }).claim;
    throw new LogoutTokenError(
      typeof claim === 'string' ? `its "${claim.replace(/[^\w]/g, '')}" claim is invalid` : 'its signature does not verify with the identity provider\'s keys',
    );
  }
  const now = nowSeconds();
  if (typeof payload.iat !== 'number' || payload.iat > now + config.clockTolerance) throw new LogoutTokenError('it was issued in the future');
  if (payload.exp === undefined && payload.iat < now - MAX_AGE_WITHOUT_EXP - config.clockTolerance) {
    throw new LogoutTokenError('it is too old');
  }
  // §2.6 step 4-6: a logout-event member that is a JSON object, a sid and/or a sub, and no nonce (an ID token has one).
  if (!isObject(payload.events) || !isObject(payload.events[LOGOUT_EVENT])) {
    throw new LogoutTokenError('its events claim has no back-channel logout event');
  }
  const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' && payload.sid ? payload.sid : undefined;
  if (!sub && !sid) throw new LogoutTokenError('it names neither a sid nor a sub');
  if (payload.nonce !== undefined) throw new LogoutTokenError('it carries a nonce, so it may be an ID token');
  if (typeof payload.jti !== 'string' || !payload.jti) throw new LogoutTokenError('its jti claim is invalid');
  return {
    iss: String(payload.iss),
    jti: payload.jti,
    ...(payload.exp !== undefined && { exp: payload.exp }),
    ...(sub !== undefined && { sub }),
    ...(sid !== undefined && { sid }),
  };
}
