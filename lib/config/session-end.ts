/**
 * The options of how a session ends (README "Logout"): who may trigger a logout (the CSRF rules of the logout
 * route and the explicit ways to relax them), how the end-session request reaches the IdP (OpenID Connect
 * RP-Initiated Logout 1.0), token revocation at logout (RFC 7009), and the upstream session ceiling
 * (`maxSessionLifetime`, next to the IdP's `session_expiry`). A zod shape spread into the one schema (schema.ts),
 * its cross-field rules, and the values derived from it once at start-up.
 */
import { z } from 'zod';
import { LOOPBACK } from './fields.js';

/** How the browser carries the end-session request to the IdP (the `endSessionMethod` option). @private */
export const END_SESSION_METHODS = ['POST', 'GET'] as const;

/** The options, as a zod shape spread into the oauthLogin() schema. @private */
export const sessionEndShape = {
  // Secure by default; each relaxation is one explicit option (README "Logout": "Relaxing the rules").
  requireLogoutToken: z.boolean({ error: 'requireLogoutToken must be true or false' }).default(true),
  logoutOrigins: z.array(z.string({ error: 'logoutOrigins must list origins such as "https://www.example.com"' })).default([]),
  endSessionMethod: z
    .enum(END_SESSION_METHODS, { error: 'endSessionMethod must be "POST" (default: the ID token never enters a URL) or "GET"' })
    .default('POST'),
  revokeTokens: z.boolean({ error: 'revokeTokens must be true or false' }).default(true),
  // An IdP logout endpoint that is not RP-Initiated Logout (Amazon Cognito's /logout): a GET with client_id and
  // the return URL under `redirectParam`, no ID token and no state (idp/end-session.ts).
  logoutEndpoint: z
    .object({
      url: z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'logoutEndpoint.url must be an absolute http(s) URL'),
      redirectParam: z.string().regex(/^[a-z_]{1,64}$/i, 'logoutEndpoint.redirectParam must be a parameter name such as "logout_uri"').default('post_logout_redirect_uri'),
    }, { error: 'logoutEndpoint must be { url, redirectParam? }' })
    .strict()
    .optional(),
  maxSessionLifetime: z
    .number({ error: 'maxSessionLifetime is in seconds, e.g. 28800 for 8 hours' })
    .int('maxSessionLifetime is in whole seconds')
    .min(60, 'maxSessionLifetime is in seconds; use at least 60')
    .optional(),
};

/** What the cross-field rules read. @private */
export interface SessionEndOptions {
  logoutOrigins: string[];
  allowInsecureRequests: boolean;
}

/**
 * Cross-field rules: every entry of `logoutOrigins` is an origin exactly as browsers send it in `Origin`
 * (RFC 6454 §6.1: scheme, host and port, no path), and https unless it is loopback or allowInsecureRequests is set.
 * @private
 */
export function sessionEndIssues(c: SessionEndOptions): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  c.logoutOrigins.forEach((value, i) => {
    const url = URL.canParse(value) ? new URL(value) : undefined;
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== value) {
      issues.push({ path: `logoutOrigins.${i}`, message: `logoutOrigins[${i}] ("${value}") must be an origin like "https://www.example.com": scheme, host and port only, no path or trailing slash` });
    } else if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !c.allowInsecureRequests) {
      issues.push({ path: `logoutOrigins.${i}`, message: `logoutOrigins[${i}] uses http on a non-loopback host: use https` });
    }
  });
  return issues;
}

/** Values derived once from the options (part of ResolvedConfig). @private */
export interface SessionEndDerived {
  /** Where a browser is sent to log out: the base path plus the logout route. */
  logoutPath: string;
  /**
   * The `post_logout_redirect_uri` sent to the IdP: the logout route itself, which checks the returned `state` and
   * then sends the browser on to `postLogoutUrl` (RP-Initiated Logout 1.0 §3).
   */
  postLogoutReturnUrl: string;
  /** Origins whose requests may end a session: the app's own (from baseURL) and `logoutOrigins`. */
  logoutAllowedOrigins: string[];
}

/** Derives the logout route's path, the post-logout redirect URI and the allowed origins from the options. @private */
export function deriveSessionEnd(appBase: string, basePath: string, logoutRoute: string, logoutOrigins: string[]): SessionEndDerived {
  return {
    logoutPath: `${basePath}${logoutRoute}`,
    postLogoutReturnUrl: `${appBase}${logoutRoute}`,
    logoutAllowedOrigins: [new URL(appBase).origin, ...logoutOrigins],
  };
}
