/**
 * POST /backchannel-logout (OpenID Connect Back-Channel Logout 1.0): the IdP tells the app, server to server, that
 * an IdP session (`sid`) or every session of a user (`sub`) ended. The logout token is validated as §2.6 asks and
 * every matching session of this app is destroyed in the store, found through the session index.
 *
 * Answers are the spec's (§2.8), not the app's error pages: 200 with `Cache-Control: no-store`, or 400 JSON
 * `{ error: 'invalid_request', error_description }`; the app still hears about failures through the `error` event.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { nowSeconds } from '../clock.js';
import { LogoutTokenError, OAuthLoginError, SessionStoreError } from '../errors.js';
import { emit, emitError } from '../events.js';
import { type LogoutToken, MAX_AGE_WITHOUT_EXP, isObject, validateLogoutToken } from '../idp/logout-token.js';
import { endSessionByIndexEntry } from '../session/sealed-store.js';
import { indexKeys, legacyIndexKeys, sessionIndexFor } from '../session/sid-index.js';
import { isVersionedStore } from '../session/versioned-store.js';
import { providerLabel, recordBackchannelLogout } from '../telemetry.js';
import type { Context } from './context.js';

/** Logout tokens are small; a bigger body is not one. */
const BODY_LIMIT = '16kb';


function destroyInStore(req: Request, entry: string): Promise<void> {
  return endSessionByIndexEntry(req.sessionStore, entry).catch((err: unknown) => {
    throw err instanceof SessionStoreError ? err : new SessionStoreError({ cause: err });
  });
}

/** Ends every session of this app the token names; returns how many. */
async function endSessions(ctx: Context, req: Request, token: LogoutToken): Promise<number> {
  const index = sessionIndexFor(ctx.config, req);
  const ids: string[] = [];
  // The index keys in clear of logins made before they were hashed, until those sessions have all expired.
  for (const keys of [indexKeys(ctx.config.issuer, token.sub, token.sid), legacyIndexKeys(ctx.config.issuer, token.sub, token.sid)]) {
    // §2.7: a sid names one IdP session; with a sub as well, only that user's sessions in it. A sub alone: all of them.
    let found = await index.members((keys.sid ?? keys.sub)!);
    if (keys.sid && keys.sub) {
      const ofUser = new Set(await index.members(keys.sub));
      found = found.filter((id) => ofUser.has(id));
    }
    for (const id of found) {
      await destroyInStore(req, id);
      await index.remove(Object.values(keys), id);
      await index.dropRecord(id);
    }
    ids.push(...found);
  }
  // oauthSession()'s stores leave tombstones: no request in flight can write an ended session back.
  if (ids.length && !isVersionedStore(req.sessionStore)) destroyAgainLater(ctx, req.sessionStore, ids);
  return ids.length;
}

/**
 * An app's own, unversioned store: a request of an ended session that was already in flight (a refresh, the idle stamp) can save the session back
 * after our destroy(), as with any express-session destroy. Every such request has finished after a couple of IdP
 * timeouts, so destroying the same ids once more then removes what it wrote. A new login never reuses these ids
 * (the session id is regenerated at login), so nothing else can be hit. Best effort: lost if the process stops.
 */
function destroyAgainLater(ctx: Context, store: Request['sessionStore'], ids: string[]): void {
  const timer = setTimeout(() => {
    for (const id of ids) endSessionByIndexEntry(store, id).catch(() => undefined);
  }, 2 * ctx.config.httpTimeout + 2000);
  timer.unref();
}

function answer(ctx: Context, req: Request, res: Response, err: unknown): void {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const known = err instanceof OAuthLoginError ? err : new SessionStoreError({ cause: err });
  emitError(req, known);
  recordBackchannelLogout(providerLabel(ctx.config), { error: known });
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
      const token = await validateLogoutToken(ctx.config, ctx.provider, isObject(body) ? body.logout_token : undefined);
      // §2.6 step 7 (optional in the spec, done here): a jti is good once, for as long as the token is valid.
      const ttl = (token.exp ?? nowSeconds() + MAX_AGE_WITHOUT_EXP) - nowSeconds() + ctx.config.clockTolerance;
      const index = sessionIndexFor(ctx.config, req);
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
      recordBackchannelLogout(providerLabel(ctx.config), { sessions });
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      res.status(200).end();
    } catch (err) {
      answer(ctx, req, res, err);
    }
  };
  return [
    (req, res, next) => parse(req, res, (err?: unknown) => (err ? answer(ctx, req, res, new LogoutTokenError('the request body is not a small form')) : next())),
    handle,
  ];
}
