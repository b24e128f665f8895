/**
 * How a preset and the caller's options combine: the caller wins field by field, and `authorizationParams` are
 * merged key by key (so adding `login_hint` keeps a preset's `access_type`). Shared by every preset file.
 */
import type { OAuthLoginConfig } from '../schema.js';

/** What a preset accepts besides its own options: any oauthLogin() option, each overriding the preset's. @public */
export type PresetOverrides = Partial<OAuthLoginConfig>;

/** The preset's defaults with the caller's overrides applied. @private */
export function withOverrides(defaults: PresetOverrides, overrides: PresetOverrides): OAuthLoginConfig {
  const params = { ...defaults.authorizationParams, ...overrides.authorizationParams };
  return { ...defaults, ...overrides, ...(Object.keys(params).length > 0 && { authorizationParams: params }) };
}

/**
 * `https://<domain>` for a bare host name, or the origin itself when a URL is given (a custom domain, or a local
 * stand-in over http in tests), without a trailing slash.
 * @private
 */
export function originOf(domain: string): string {
  return (domain.includes('://') ? domain : `https://${domain}`).replace(/\/+$/, '');
}
