/**
 * Building blocks shared by the option schemas (oauthLogin() in schema.ts, oauthSession() in session-options.ts):
 * field validators whose messages name the field, the one reading of the app's origin, and the one way a zod
 * failure becomes a ConfigError.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/** Hosts where plain http stays on the machine. @private */
export const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * True when `url` is plain http on a host other than loopback: cookies and tokens sent to it cross the network in
 * clear text. The one rule oauthLogin()'s baseURL and oauthSession()'s cookie share.
 * @private
 */
export function isClearTextOrigin(url: URL): boolean {
  return url.protocol === 'http:' && !LOOPBACK.has(url.hostname);
}

/**
 * A route path. Only characters that mean themselves to both Express 4's and Express 5's path matching (no `:`,
 * `*`, `?`, `(`, `{`), so a route is matched literally on either major.
 * @private
 */
export const routePath = (field: string, fallback: string) =>
  z
    .string()
    .regex(/^\/[A-Za-z0-9._~/-]*$/, `${field} must be a path starting with "/" made of letters, digits and - . _ ~ / (no query, fragment or pattern)`)
    .default(fallback);

/** A required absolute http(s) URL; `what` says what it is for and where else it may come from. @private */
export const httpUrl = (field: string, what: string) =>
  z
    .string({ error: `${field} is required: ${what}` })
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
      message: `${field} must be an absolute http(s) URL: ${what}`,
    });

/** The environment variable both oauthLogin() and oauthSession() read the app's external origin from. @private */
export const BASE_URL_ENV = 'OAUTH_BASE_URL';

/**
 * The app's external URL as the options give it: the `baseURL` option, else OAUTH_BASE_URL. One reading for
 * oauthLogin() and oauthSession(), so the session cookie and the redirect URI never disagree about https.
 * @private
 */
export function baseUrlOption(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): unknown {
  return raw.baseURL === undefined && env[BASE_URL_ENV] ? env[BASE_URL_ENV] : raw.baseURL;
}

/** One line per zod issue, naming the field. */
function describe(issue: z.core.$ZodIssue): string {
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return `unknown option(s): ${issue.keys.join(', ')} (check the spelling)`;
  if (issue.message.startsWith(path) || !path) return issue.message;
  return `${path}: ${issue.message}`;
}

/**
 * Parses `raw` with `schema`, or throws a ConfigError listing every problem at once.
 * @private
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, problems: string[] = []): z.output<S> {
  const parsed = schema.safeParse(raw);
  // `problems`: rules checked on the raw input before parsing, listed together with the schema's.
  if (!parsed.success || problems.length > 0) throw new ConfigError([...problems, ...(parsed.success ? [] : parsed.error.issues.map(describe))]);
  return parsed.data;
}
