/**
 * Multi-tenant issuers (README "Multi-tenant issuers"): an IdP whose discovered issuer is a template such as
 * `https://login.microsoftonline.com/{tenantid}/v2.0` (Microsoft Entra ID `common` / `organizations`) signs each
 * user's ID token with their own tenant's issuer. Which tenants may sign in is the app's decision, so it must be
 * written out: `allowedTenants: ['<tenant id>', ...]`, or `'any'`. The zod shape spread into the one schema
 * (schema.ts) and its cross-field rules; the checks on discovery and on ID tokens live in idp/tenants.ts.
 */
import { z } from 'zod';

/** The placeholder a templated issuer contains where the tenant id goes. @private */
export const TENANT_PLACEHOLDER = '{tenantid}';

/** What a tenant id may look like (Entra: a GUID): it becomes part of an issuer URL and of the session. @private */
export const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Entra ID's multi-tenant authorities: their discovered issuer is the `{tenantid}` template. */
const ENTRA_MULTI_TENANT = /^https:\/\/login\.microsoftonline\.(com|us)\/(common|organizations)\/v2\.0\/?$/;

/** The option, as a zod shape spread into the oauthLogin() schema. @private */
export const tenantShape = {
  allowedTenants: z
    .union(
      [
        z.literal('any'),
        z
          .array(z.string().regex(TENANT_ID, 'allowedTenants entries are tenant ids (letters, digits, ".", "-", "_")'))
          .min(1, 'allowedTenants must list at least one tenant id, or be "any"'),
      ],
      { error: 'allowedTenants must be an array of tenant ids, or "any" to let every tenant sign in' },
    )
    .optional(),
};

/** What the cross-field rules read. @private */
export interface TenantOptions {
  issuer?: string | undefined;
  allowedTenants?: 'any' | string[] | undefined;
  backchannelLogout: boolean;
  responseMode?: string | undefined;
}

/**
 * Cross-field rules: an issuer known to be multi-tenant needs allowedTenants (other hosts are only recognised at
 * discovery, where the same rule applies: idp/tenants.ts); back-channel logout tokens of a templated issuer are
 * and JARM responses of a templated issuer are not checked yet, so those options are refused together rather than
 * half working.
 * @private
 */
export function tenantIssues(c: TenantOptions): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  if (c.allowedTenants === undefined && c.issuer !== undefined && ENTRA_MULTI_TENANT.test(c.issuer)) {
    issues.push({
      path: 'allowedTenants',
      message:
        'allowedTenants is required with a multi-tenant issuer (common/organizations): list the tenant ids that may sign in, ' +
        'or set allowedTenants: "any" to accept every tenant',
    });
  }
  if (c.allowedTenants !== undefined && c.backchannelLogout) {
    issues.push({ path: 'backchannelLogout', message: 'backchannelLogout is not supported together with allowedTenants (multi-tenant issuers) yet' });
  }
  if (c.allowedTenants !== undefined && c.responseMode?.endsWith('jwt')) {
    issues.push({ path: 'responseMode', message: `responseMode "${c.responseMode}" (JARM) is not supported together with allowedTenants (multi-tenant issuers) yet` });
  }
  return issues;
}

/** The multi-tenant problem found at discovery, worded like a configuration problem. @private */
export function missingAllowedTenants(template: string): string {
  return `the identity provider's issuer is a multi-tenant template (${template}): set allowedTenants to the tenant ids that may sign in, or to "any"`;
}
