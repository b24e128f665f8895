/**
 * Types shared by more than one layer of lib/: the public ones (the user on `req.user`, the afterCallback hook),
 * the shapes of the tokens and DPoP keys the session keeps, and the Express module augmentation that types
 * `req.user`. Nothing here has behaviour, so every folder may import it.
 */
import type { Request } from 'express';
import type { JWK } from 'jose';
import type { TokenEndpointResponse } from 'openid-client';

/** The logged-in user, as `requireAuth()` puts it on `req.user`. @public */
export interface AuthenticatedUser {
  /** The subject identifier from the ID token. */
  sub: string;
  /** ID token claims (validation-only claims such as nonce and at_hash removed). */
  claims: Record<string, unknown>;
  /** A current access token: requireAuth refreshes it before it expires. */
  accessToken: string;
  /** The authorization scheme for the access token: `Bearer`, or `DPoP` for a DPoP-bound token (RFC 9449). */
  tokenType: string;
  /** The `name` of the provider the user logged in with, when providers are named (several providers). */
  provider?: string;
  /** A multi-tenant issuer (allowedTenants): the user's tenant id (`tid`), part of their identity with `sub`. */
  tenant?: string;
  /** Access token expiry, seconds since the epoch, when the IdP said. */
  expiresAt?: number;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
}

/** What afterCallback may return: false to refuse the login, or the claims to store (replacing them). @public */
export type AfterCallbackResult = boolean | void | { claims: Record<string, unknown> };

/**
 * The `afterCallback(req, tokens, claims)` hook: runs after every check passed and before the session is created.
 * `tokens` is the token response (do not log it); `claims` are the ID token claims merged with UserInfo claims.
 * Return `false` to refuse the login (403 `login_rejected`), `{ claims }` to store different claims, or nothing.
 * @public
 */
export type AfterCallback = (
  req: Request,
  tokens: TokenEndpointResponse,
  claims: Record<string, unknown>,
) => AfterCallbackResult | Promise<AfterCallbackResult>;

/** Tokens as stored in the session. @private */
export interface StoredTokens {
  accessToken: string;
  tokenType: string;
  /** Seconds since the epoch. */
  expiresAt?: number;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
  /**
   * Seconds since the epoch: the ID token's `session_expiry` claim (IPSIE SL1), the upstream session's end. The
   * app session never outlives it; a refreshed ID token that carries one replaces it.
   */
  sessionExpiry?: number;
}

/** A token from a token exchange (RFC 8693 §2.2.1), as cached in the session per request. @private */
export interface StoredExchangedToken {
  accessToken: string;
  /** `Bearer`, `DPoP`, or `N_A` for a token that is not an access token (RFC 8693 §2.2.1). */
  tokenType: string;
  /** The `issued_token_type`, e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  issuedTokenType: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  scope?: string;
}

/** A DPoP key pair (RFC 9449) as stored in the session, with the login or tokens it protects. @private */
export interface StoredDpopKey {
  alg: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // Declared as Express.User, like passport's typings, so both can be installed together.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AuthenticatedUser {}
    interface Request {
      user?: User;
    }
  }
}
