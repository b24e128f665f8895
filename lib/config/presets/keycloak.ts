/**
 * Keycloak: https://www.keycloak.org/securing-apps/oidc-layers
 *
 * Quirks: the issuer is per realm, `<url>/realms/<realm>` (no `/auth` prefix since Keycloak 17; pass it in `url`
 * for older servers); endpoints live under `/protocol/openid-connect/`. RP-initiated logout, revocation and
 * back-channel logout are all supported.
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, withOverrides } from './merge.js';

/** Options of {@link keycloak}. @public */
export interface KeycloakOptions extends PresetOverrides {
  /** The server's base URL, e.g. `https://sso.example.com` (or `https://sso.example.com/auth` before Keycloak 17). */
  url: string;
  /** The realm's name. */
  realm: string;
}

/** `providers.keycloak({ url, realm })`: a Keycloak realm. @public */
export function keycloak({ url, realm, ...overrides }: KeycloakOptions): OAuthLoginConfig {
  return withOverrides({ issuer: `${url.replace(/\/+$/, '')}/realms/${encodeURIComponent(realm)}`, scope: 'openid profile email' }, overrides);
}
