/**
 * The one clock of the middleware: protocol times (JWT `iat`/`exp`, session lifetimes) are whole seconds since the
 * epoch (RFC 7519 §2 NumericDate).
 */

/** Seconds since the epoch. @private */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
