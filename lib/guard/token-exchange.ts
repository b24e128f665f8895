/**
 * exchangeToken(req, { audience, resource, scope, requestedTokenType }): a token for a downstream API, obtained by
 * exchanging the logged-in user's access token at the IdP (RFC 8693 §2), so the app never forwards the user's own
 * token to a service it was not issued for (RFC 8693 §1, RFC 9700 §2.3). The result is cached in the server-side
 * session per request until shortly before it expires (`refreshSkew`), and exchanged again after; concurrent calls
 * of one process for the same request share one exchange. It is never logged nor sent to the browser.
 */
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { nowSeconds } from '../clock.js';
import { UnauthenticatedError } from '../errors.js';
import { type TokenExchangeRequest, exchangeGrant } from '../idp/token-exchange.js';
import { contextOf } from '../routes/context.js';
import { cachedExchange, keepExchange } from '../session/exchanged-tokens.js';
import { saveSession } from '../session/persistence.js';
import type { StoredExchangedToken } from '../types.js';
import { currentUser } from './current-user.js';

/** A token for a downstream API, from {@link exchangeToken}. Never log it. @public */
export interface ExchangedToken {
  accessToken: string;
  /** The authorization scheme: `Bearer`, `DPoP` (bound to the login's DPoP key), or `N_A` (not an access token). */
  tokenType: string;
  /** What the IdP issued (RFC 8693 §3), e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  issuedTokenType: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  scope?: string;
}

/** Options of {@link exchangeToken}. @public */
export type ExchangeTokenOptions = TokenExchangeRequest;

const FIELDS = ['audience', 'resource', 'scope', 'requestedTokenType'] as const;

/** One cache entry per distinct request; the fields are checked to be strings first. */
function cacheKey(options: ExchangeTokenOptions): string {
  return JSON.stringify(FIELDS.map((f) => options[f] ?? null));
}

function checked(options: unknown): ExchangeTokenOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('exchangeToken(req, options): options must be an object');
  const o = options as Record<string, unknown>;
  for (const f of FIELDS) {
    if (o[f] !== undefined && (typeof o[f] !== 'string' || o[f] === '')) throw new TypeError(`exchangeToken(req, options): ${f} must be a non-empty string`);
  }
  return Object.fromEntries(FIELDS.filter((f) => o[f] !== undefined).map((f) => [f, o[f]]));
}

/**
 * Exchanges under way or just done, per subject token and request (in memory only): requests of one session that
 * loaded it before the first exchange was saved reuse its outcome instead of exchanging again. Failures are
 * forgotten at once, so the next call retries.
 */
const inflight = new LRUCache<string, Promise<StoredExchangedToken>>({ max: 1000, ttl: 30_000 });

function publicToken(token: StoredExchangedToken): ExchangedToken {
  return { ...token };
}

/**
 * A token for the downstream API `options` describe, exchanged for the user's access token (refreshed first when
 * needed) and cached in the session until it expires.
 * @throws {UnauthenticatedError} (401) without a logged-in user; {TokenExchangeError} (502) when the IdP refuses;
 *   {IdpUnavailableError} when it cannot be reached or does not offer token exchange; {TypeError} for bad options.
 * @public
 */
export async function exchangeToken(req: Request, options: ExchangeTokenOptions = {}): Promise<ExchangedToken> {
  const request = checked(options);
  const ctx = contextOf(req);
  const user = await currentUser(req);
  if (!user) throw new UnauthenticatedError();
  const key = cacheKey(request);
  const cached = cachedExchange(user, key, ctx.config.refreshSkew);
  if (cached) return publicToken(cached);
  // In memory only, per subject token: concurrent requests of one session share one exchange.
  const flight = `${user.tokens.accessToken}\0${key}`;
  const shared = inflight.get(flight);
  const reused = shared && (await shared);
  let running: Promise<StoredExchangedToken>;
  if (reused && reused.expiresAt - ctx.config.refreshSkew > nowSeconds()) running = Promise.resolve(reused);
  else {
    running = exchangeGrant(
      ctx.config,
      ctx.provider,
      { accessToken: user.tokens.accessToken, dpop: user.dpop, ...(user.tokens.expiresAt !== undefined && { expiresAt: user.tokens.expiresAt }) },
      request,
    );
    inflight.set(flight, running);
    running.catch(() => inflight.delete(flight));
  }
  const token = await running;
  keepExchange(user, key, token);
  await saveSession(req);
  return publicToken(token);
}
