/**
 * POST /backchannel-logout (OpenID Connect Back-Channel Logout 1.0): the IdP tells the app, server to server, that
 * an IdP session (`sid`) or every session of a user (`sub`) ended. The logout token is validated as §2.6 asks and
 * every matching session of this app is destroyed in the store, found through the session index.
 *
 * Answers are the spec's (§2.8), not the app's error pages: 200 with `Cache-Control: no-store`, or 400 JSON
 * `{ error: 'invalid_request', error_description }`; the app still hears about failures through the `error` event.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { type JWTPayload, decodeProtectedHeader } from 'jose';
import type { Context } from './context.js';
import { IdpUnavailableError, LogoutTokenError, OAuthLoginError, SessionStoreError, findCause } from './errors.js';
import { emit, emitError } from './events.js';
import { isAcceptedAlg, verifyIdpJwt } from './id-token.js';
import { indexKeys, sessionIndexFor } from './session-index.js';
import { nowSeconds } from './session-state.js';

/** §2.4: the member of `events` that makes a JWT a logout token. */
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How old a logout token without `exp` may be (seconds), and so how long its `jti` must be remembered. */
const MAX_AGE_WITHOUT_EXP = 300;

/** Logout tokens are small; a bigger body is not one. */
const BODY_LIMIT = '16kb';

interface LogoutToken {
  iss: string;
  jti: string;
  exp?: number;
  sub?: string;
  sid?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a logout token (§2.6 steps 1-7; step 7's replay check happens in the handler).
 * @throws {LogoutTokenError}
 * @private
 */
export async function validateLogoutToken(ctx: Context, token: unknown): Promise<LogoutToken> {
  const { config } = ctx;
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
  if (header.typ !== undefined && !['logout+jwt', 'JWT', 'application/logout+jwt'].includes(String(header.typ))) {
    throw new LogoutTokenError('its typ header says it is not a logout token');
  }
  const configuration = await ctx.provider.get();
  let payload: JWTPayload;
  try {
    payload = await verifyIdpJwt(token, header.alg, config, ctx.provider, {
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

function destroyInStore(req: Request, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    req.sessionStore.destroy(id, (err: unknown) => (err ? reject(new SessionStoreError({ cause: err })) : resolve()));
  });
}

/** Ends every session of this app the token names; returns how many. */
async function endSessions(ctx: Context, req: Request, token: LogoutToken): Promise<number> {
  const index = sessionIndexFor(ctx, req);
  const keys = indexKeys(ctx.config.issuer, token.sub, token.sid);
  // §2.7: a sid names one IdP session; with a sub as well, only that user's sessions in it. A sub alone: all of them.
  let ids = await index.members((keys.sid ?? keys.sub)!);
  if (keys.sid && keys.sub) {
    const ofUser = new Set(await index.members(keys.sub));
    ids = ids.filter((id) => ofUser.has(id));
  }
  for (const id of ids) {
    await destroyInStore(req, id);
    await index.remove(Object.values(keys), id);
  }
  if (ids.length) destroyAgainLater(ctx, req.sessionStore, ids);
  return ids.length;
}

/**
 * A request of an ended session that was already in flight (a refresh, the idle stamp) can save the session back
 * after our destroy(), as with any express-session destroy. Every such request has finished after a couple of IdP
 * timeouts, so destroying the same ids once more then removes what it wrote. A new login never reuses these ids
 * (the session id is regenerated at login), so nothing else can be hit. Best effort: lost if the process stops.
 */
function destroyAgainLater(ctx: Context, store: Request['sessionStore'], ids: string[]): void {
  const timer = setTimeout(() => {
    for (const id of ids) store.destroy(id, () => undefined);
  }, 2 * ctx.config.httpTimeout + 2000);
  timer.unref();
}

function answer(req: Request, res: Response, err: unknown): void {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const known = err instanceof OAuthLoginError ? err : new SessionStoreError({ cause: err });
  emitError(req, known);
  // §2.8: 400 for a token we refuse; a store or IdP outage is not the token's fault, so say so (5xx: the IdP may retry).
  const error = known instanceof LogoutTokenError ? 'invalid_request' : 'temporarily_unavailable';
  res.status(known.status).json({ error, error_description: known.message });
}

/**
 * The back-channel logout route's handlers (a small urlencoded body parser, then the logout itself).
 * @private
 */
export function backchannelLogoutHandlers(ctx: Context): RequestHandler[] {
  const parse = express.urlencoded({ extended: false, limit: BODY_LIMIT });
  const handle: RequestHandler = async (req, res) => {
    try {
      const body: unknown = req.body;
      const token = await validateLogoutToken(ctx, isObject(body) ? body.logout_token : undefined);
      // §2.6 step 7 (optional in the spec, done here): a jti is good once, for as long as the token is valid.
      const ttl = (token.exp ?? nowSeconds() + MAX_AGE_WITHOUT_EXP) - nowSeconds() + ctx.config.clockTolerance;
      const index = sessionIndexFor(ctx, req);
      const jti = `${token.iss}|${token.jti}`;
      if (!(await index.firstSeen(jti, Math.max(ttl, 1)))) throw new LogoutTokenError('it was already used (replayed jti)');
      let sessions: number;
      try {
        sessions = await endSessions(ctx, req, token);
      } catch (err) {
        // Nothing (or not everything) was ended: let the IdP's retry of this very token through.
        await index.forget(jti).catch(() => undefined);
        throw err;
      }
      emit(req, 'backchannelLogout', {
        ...(token.sub !== undefined && { sub: token.sub }),
        ...(token.sid !== undefined && { sid: token.sid }),
        sessions,
      });
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      res.status(200).end();
    } catch (err) {
      answer(req, res, err);
    }
  };
  return [
    (req, res, next) => parse(req, res, (err?: unknown) => (err ? answer(req, res, new LogoutTokenError('the request body is not a small form')) : next())),
    handle,
  ];
}
