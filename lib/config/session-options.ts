/**
 * The options of oauthSession(): the cookie, the store (Redis or in process), its deadlines. Validated once, when
 * oauthSession() is called; the cookie's Secure flag follows the app's origin as oauthLogin() reads it (fields.ts).
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { baseUrlOption, isClearTextOrigin, parseOptions } from './fields.js';
import { type RedisClient, isRedisClient } from './redis-client.js';

/** A cookie name: an RFC 6265 §4.1.1 token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const REDIS_OPTION = 'redis must be a redis:// or rediss:// URL, or an ioredis Redis or Cluster client';

const sessionSchema = z
  .object({
    secret: z.union([z.string(), z.array(z.string()).min(1, 'secret must not be an empty array')], {
      error: 'secret is required: a long random string that signs the session cookie (or set SESSION_SECRET)',
    }).refine((s) => (Array.isArray(s) ? s : [s]).every((x) => x.length >= 32), {
      message: 'secret must be at least 32 characters (e.g. `openssl rand -base64 32`); pass an array to rotate secrets',
    }),
    redis: z
      .union([z.string().refine((s) => URL.canParse(s) && /^rediss?:$/.test(new URL(s).protocol), REDIS_OPTION), z.custom<RedisClient>(isRedisClient)], {
        error: REDIS_OPTION,
      })
      .optional(),
    prefix: z.string().min(1, 'prefix must not be empty').default('sess:'),
    ttl: z.number().int().min(60, 'ttl is in seconds; use at least 60').default(24 * 3600),
    memory: z
      .object({
        maxSessions: z.number().int().positive('memory.maxSessions must be a positive integer').default(10_000),
        maxBytes: z.number().int().min(65_536, 'memory.maxBytes is in bytes; use at least 65536').default(64 * 1024 * 1024),
        maxAnonymousSessions: z.number().int().positive('memory.maxAnonymousSessions must be a positive integer').default(10_000),
        maxAnonymousBytes: z.number().int().min(65_536, 'memory.maxAnonymousBytes is in bytes; use at least 65536').default(16 * 1024 * 1024),
      })
      .strict()
      .default({ maxSessions: 10_000, maxBytes: 64 * 1024 * 1024, maxAnonymousSessions: 10_000, maxAnonymousBytes: 16 * 1024 * 1024 }),
    seal: z.boolean({ error: 'seal must be true (default: sessions encrypted at rest) or false' }).default(true),
    storeTimeout: z.number().int().min(50, 'storeTimeout is in milliseconds; use at least 50').max(60_000).default(2000),
    baseURL: z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
      message: "baseURL must be an absolute http(s) URL: the app's external origin (or set OAUTH_BASE_URL)",
    }).optional(),
    cookie: z
      .object({
        name: z.string().regex(COOKIE_NAME, 'cookie.name must be a cookie token (letters, digits, ._-)').default('oauth.sid'),
        secure: z.union([z.boolean(), z.literal('auto')]).optional(),
        sameSite: z
          .enum(['lax', 'strict', 'none'], { error: 'cookie.sameSite must be "lax" (default), "strict" or "none"' })
          .default('lax'),
        domain: z.string().min(1).optional(),
        path: z.string().startsWith('/', 'cookie.path must start with "/"').default('/'),
        maxAge: z.number().int().positive('cookie.maxAge is in milliseconds and must be positive').optional(),
      })
      .strict()
      .default({ name: 'oauth.sid', sameSite: 'lax', path: '/' }),
  })
  .strict();

/** Options accepted by `oauthSession()`. See README "Production". @public */
export type OAuthSessionOptions = z.input<typeof sessionSchema>;

/** The validated `oauthSession()` options, with the cookie's Secure flag decided. @public */
export type ResolvedSessionOptions = z.output<typeof sessionSchema> & { secure: boolean | 'auto' };

/** What an app in production must set when the cookie's Secure flag cannot be decided safely (README "Production"). */
const SET_THE_ORIGIN =
  "set oauthSession({ baseURL }) to your app's https origin, the same as oauthLogin()'s (or set OAUTH_BASE_URL for " +
  'both), e.g. https://app.example.com';

/**
 * In production the session cookie must be Secure (issue: the quick start behind a TLS-terminating proxy gave a
 * cookie without it): an http origin on a non-loopback host is refused, and so is an unknown origin unless the app
 * chose `cookie.secure` itself (`'auto'` with `trust proxy`, or `true`).
 */
function productionProblems(baseURL: string | undefined, secureOption: boolean | 'auto' | undefined, secure: boolean | 'auto'): string[] {
  if (baseURL === undefined) {
    return secureOption === undefined
      ? [`baseURL is needed with NODE_ENV=production, so that the session cookie is Secure: ${SET_THE_ORIGIN}`]
      : [];
  }
  if (isClearTextOrigin(new URL(baseURL)) && secure !== true) {
    return [`baseURL ${new URL(baseURL).origin} is http on a non-loopback host: with NODE_ENV=production the session ` +
      `cookie would travel in clear text. Use https: ${SET_THE_ORIGIN}`];
  }
  return [];
}

/**
 * Validates `oauthSession()` options. The cookie is Secure when baseURL (or OAUTH_BASE_URL, read as oauthLogin()
 * reads it) is https, not Secure when it is http, and `'auto'` (Secure exactly when the request came over https;
 * needs `trust proxy` behind a TLS-terminating proxy) when neither is known. With NODE_ENV=production an http
 * origin that is not loopback, or no origin at all without an explicit `cookie.secure`, stops the app.
 * @throws {ConfigError} listing every problem at once.
 * @public
 */
export function resolveSessionOptions(input: OAuthSessionOptions, env: NodeJS.ProcessEnv = process.env): ResolvedSessionOptions {
  if (typeof input !== 'object' || input === null) throw new ConfigError(['the oauthSession options must be an object']);
  const raw: Record<string, unknown> = { ...input };
  if (raw.secret === undefined && env.SESSION_SECRET) raw.secret = env.SESSION_SECRET;
  const baseURL = baseUrlOption(raw, env);
  if (baseURL !== undefined) raw.baseURL = baseURL;
  const o = parseOptions(sessionSchema, raw);
  const secure = o.cookie.secure ?? (o.baseURL ? new URL(o.baseURL).protocol === 'https:' : 'auto');
  const problems = env.NODE_ENV === 'production' ? productionProblems(o.baseURL, o.cookie.secure, secure) : [];
  if (o.cookie.sameSite === 'none' && secure !== true) {
    // Browsers drop SameSite=None cookies that are not Secure.
    problems.push('cookie.sameSite "none" needs a Secure cookie: use an https baseURL or cookie.secure: true');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...o, secure };
}
