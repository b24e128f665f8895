/**
 * getAccessToken(req): a current access token outside requireAuth(), e.g. in a route that works for anonymous and
 * logged-in users alike, or in code that calls an API on the user's behalf. Same rules as requireAuth: idle and
 * absolute lifetimes, and a refresh (single flight) when the token is about to expire.
 */
import type { Request } from 'express';
import { UnauthenticatedError } from '../errors.js';
import { currentUser } from './current-user.js';

/**
 * Resolves a fresh access token for the request's logged-in user, refreshing it first when needed.
 * @throws {UnauthenticatedError} (401) when there is no logged-in user, or the refresh failed and the session ended.
 * @throws {IdpUnavailableError} when the IdP cannot be reached for a needed refresh (the session is kept).
 * @public
 */
export async function getAccessToken(req: Request): Promise<string> {
  const user = await currentUser(req);
  if (!user) throw new UnauthenticatedError();
  return user.tokens.accessToken;
}
