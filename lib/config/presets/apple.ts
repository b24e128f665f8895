/**
 * Sign in with Apple: https://developer.apple.com/documentation/signinwithapple and, for the client secret,
 * https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret
 *
 * Quirks: the client secret is an ES256 JWT the app signs with its team's Sign in with Apple key (`iss` the team
 * id, `sub` the client id, i.e. the Services ID, `aud` https://appleid.apple.com, valid at most six months); this
 * preset makes it on the first token request and renews it a day before it expires (`makeClientSecret`). Asking
 * for `name` or `email` requires `response_mode=form_post`, and the name arrives only once, in the first POST's
 * `user` field, which `keepPostedUser` keeps. Client authentication is client_secret_post only; Apple has no
 * end-session or UserInfo endpoint.
 */
import { type CryptoKey, type KeyObject, SignJWT, importPKCS8 } from 'jose';
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, withOverrides } from './merge.js';

/** Options of {@link apple}. @public */
export interface AppleOptions extends PresetOverrides {
  /** The Apple Developer team id (10 characters): the client secret's `iss`. */
  teamId: string;
  /** The id of the Sign in with Apple private key: the client secret's `kid`. */
  keyId: string;
  /** That key: the PKCS#8 PEM of the downloaded `.p8` file, or an imported key. */
  privateKey: string | CryptoKey | KeyObject;
}

const APPLE_ISSUER = 'https://appleid.apple.com';
/** 180 days: under Apple's limit of 15777000 seconds (six months). */
const SECRET_LIFETIME = 180 * 24 * 3600;
/** Renewed this long before it expires, so a token request never presents an expired secret. */
const RENEW_BEFORE = 24 * 3600;

/**
 * The maker of Apple's client secret JWT: signed once, reused, and signed again a day before it expires. The
 * private key stays inside jose (imported once, not extractable).
 * @private
 */
export function appleClientSecret(options: Pick<AppleOptions, 'teamId' | 'keyId' | 'privateKey'>, now = () => Math.floor(Date.now() / 1000)): (clientId: string) => Promise<string> {
  let key: Promise<CryptoKey | KeyObject> | undefined;
  let current: { clientId: string; jwt: Promise<string>; exp: number } | undefined;
  return (clientId) => {
    const at = now();
    if (current && current.clientId === clientId && current.exp - RENEW_BEFORE > at) return current.jwt;
    key ??= typeof options.privateKey === 'string' ? importPKCS8(options.privateKey, 'ES256') : Promise.resolve(options.privateKey);
    const exp = at + SECRET_LIFETIME;
    const jwt = key.then((k) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: options.keyId }).setIssuer(options.teamId).setSubject(clientId).setAudience(APPLE_ISSUER).setIssuedAt(at).setExpirationTime(exp).sign(k),
    );
    current = { clientId, jwt, exp };
    // A key that fails to import or sign is not cached: the next request tries again (and fails the same way).
    jwt.catch(() => {
      if (current?.jwt === jwt) current = undefined;
      key = undefined;
    });
    return jwt;
  };
}

/** `providers.apple({ teamId, keyId, privateKey })`: Sign in with Apple (pass the Services ID as `clientId`). @public */
export function apple({ teamId, keyId, privateKey, ...overrides }: AppleOptions): OAuthLoginConfig {
  return withOverrides(
    {
      issuer: APPLE_ISSUER,
      scope: 'openid name email',
      responseMode: 'form_post',
      tokenEndpointAuthMethod: 'client_secret_post',
      makeClientSecret: appleClientSecret({ teamId, keyId, privateKey }),
      keepPostedUser: true,
      idpLogout: false,
    },
    overrides,
  );
}
