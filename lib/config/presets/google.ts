/**
 * Google (OpenID Connect): https://developers.google.com/identity/openid-connect/openid-connect
 *
 * Quirks: a refresh token is issued only with `access_type=offline`, and again after the first consent only with
 * `prompt=consent` (https://developers.google.com/identity/protocols/oauth2/web-server#offline); Google publishes
 * no end_session_endpoint, so logout is local (the Google session stays: that is Google's design).
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, withOverrides } from './merge.js';

/** `providers.google()`: Google accounts, with offline access (refresh tokens). @public */
export function google(overrides: PresetOverrides = {}): OAuthLoginConfig {
  return withOverrides(
    {
      issuer: 'https://accounts.google.com',
      scope: 'openid email profile',
      authorizationParams: { access_type: 'offline', prompt: 'consent' },
      idpLogout: false,
    },
    overrides,
  );
}
