/**
 * Microsoft Entra ID (v2.0 endpoints): https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc
 *
 * Quirks: `tenant` is a tenant id or domain (single tenant), or `common` / `organizations` (multi-tenant), whose
 * discovered issuer is the template `https://login.microsoftonline.com/{tenantid}/v2.0`: then `allowedTenants`
 * (tenant ids, or `'any'`) is required and each ID token must carry its own tenant's issuer (README "Multi-tenant
 * issuers"); `consumers` is personal accounts only. Refresh tokens need the `offline_access` scope. `authority`
 * selects a national cloud (e.g. `https://login.microsoftonline.us`).
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, originOf, withOverrides } from './merge.js';

/** Options of {@link microsoft}. @public */
export interface MicrosoftOptions extends PresetOverrides {
  /** A tenant id or verified domain, or `common`, `organizations` or `consumers`. */
  tenant: string;
  /** The tenant ids that may sign in with `common`/`organizations`, or `'any'`. */
  allowedTenants?: 'any' | string[];
  /** The Entra ID host (default `https://login.microsoftonline.com`). */
  authority?: string;
}

/** `providers.microsoft({ tenant, allowedTenants? })`: Microsoft Entra ID work, school or personal accounts. @public */
export function microsoft({ tenant, authority, ...overrides }: MicrosoftOptions): OAuthLoginConfig {
  return withOverrides(
    {
      issuer: `${originOf(authority ?? 'login.microsoftonline.com')}/${encodeURIComponent(tenant)}/v2.0`,
      scope: 'openid profile email offline_access',
    },
    overrides,
  );
}
