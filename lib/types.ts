/**
 * Public types, and the Express module augmentation that types `req.user`.
 */

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
  /** Access token expiry, seconds since the epoch, when the IdP said. */
  expiresAt?: number;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
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
