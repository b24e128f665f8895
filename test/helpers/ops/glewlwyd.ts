/**
 * Glewlwyd (Debian's `glewlwyd` package: a C OpenID Provider on SQLite) on loopback, set up the way an admin would:
 * a SQLite database from Debian's own SQL script, the packaged web front end, and, through Glewlwyd's admin API,
 * two OpenID Connect plugin instances, a confidential client for the test apps and a test user.
 *
 * - `oidc`: RS256 ID tokens (a key made for this run), one-time-use refresh tokens (rotation), RFC 9207 `iss` in
 *   authorization responses, RP-initiated logout.
 * - `oidchs`: HS256 ID tokens, which Glewlwyd signs with the plugin's own key instead of the client secret (OIDC Core
 *   §10.1 says the client secret): a client must refuse them.
 *
 * Setup facts about Glewlwyd 2.7.5, each found the hard way:
 * - Client authentication is checked against the client's `password` attribute, not `client_secret`.
 * - It does not form-decode the credentials in HTTP Basic authentication (RFC 6749 §2.3.1 says both are
 *   form-encoded first: `-` arrives as `%2D`), so the client id AND the client secret are letters and digits only.
 * - RP-initiated logout reads the client's list property `post_logout_redirect_uris`, which the default client store
 *   (Debian's SQL script) does not declare: it is added to the store's data format before the server starts. Its
 *   end-session page crashes unless front-channel logout is switched on.
 * - Debian's web front end is made of symlinks into other packages, which Glewlwyd's file server does not follow: it
 *   is copied here with the links resolved. Its `config.json` is a symlink to a directory (/etc/glewlwyd/config-2.7.json/),
 *   so the copy gets the template's file instead.
 * - Any `use_secure_connection` line, even `false`, makes it ask for certificate files: the config has none.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { Page } from 'playwright-core';
import { freePort } from '../redis.js';
import { OpSandbox, assertInstalled } from './processes.js';

/** Letters and digits only, the id and the secret alike (see above). */
export const GLEWLWYD_CLIENT_ID = 'eolinterop';
export const GLEWLWYD_CLIENT_SECRET = 'GlewlwydInteropClientSecret0123456789';
export const GLEWLWYD_USER = { username: 'carol', password: 'carol-password-7', name: 'Carol Interop', email: 'carol@example.org' };

export interface GlewlwydOptions {
  /** Redirect URIs of the test client (each app's callback). */
  redirectUris: string[];
  /** Registered post-logout redirect URIs. */
  postLogoutRedirectUris: string[];
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTTL?: number;
}

export interface Glewlwyd {
  /** Where Glewlwyd listens, e.g. http://127.0.0.1:40123 (its login pages are under it). */
  base: string;
  /** Issuer of the RS256 plugin instance (discovery at `${issuer}/.well-known/openid-configuration`). */
  issuer: string;
  /** Issuer of the HS256 plugin instance. */
  hsIssuer: string;
  /** The Debian package version, e.g. 2.7.5-3+deb12u1. */
  version: string;
  /** The processes' last output lines. */
  output(): string;
  close(): Promise<void>;
}

const WEBAPP = '/usr/share/glewlwyd/webapp';
const DB_SCRIPT = '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3';
const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html', '.css': 'text/css', '.js': 'application/javascript', '.json': 'application/json',
  '.png': 'image/png', '.ico': 'image/x-icon', '.svg': 'image/svg+xml', '.woff': 'font/woff', '.woff2': 'font/woff2',
  '.ttf': 'font/ttf', '.eot': 'application/vnd.ms-fontobject', '.map': 'application/octet-stream',
};

function glewlwydConf(sandbox: OpSandbox, port: number, base: string): string {
  const mimes = Object.entries(MIME_TYPES).map(([ext, type]) => `  { extension = "${ext}"; mime_type = "${type}"; }`);
  // No use_secure_connection line at all (see above); cookies without Secure because the tests run on http.
  return `port=${port}
bind_address="127.0.0.1"
external_url="${base}"
login_url="login.html"
api_prefix="api"
static_files_path="${sandbox.path('webapp')}/"
allow_origin="${base}"
log_mode="console"
log_level="WARNING"
cookie_secure=0
cookie_same_site="lax"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = "${sandbox.path('glewlwyd.db')}"; };
static_files_mime_types = (
${mimes.join(',\n')}
);
`;
}

/** The database from Debian's script, with `post_logout_redirect_uris` declared as a list in the client store. */
function initDatabase(sandbox: OpSandbox): void {
  const declare = `UPDATE g_client_module_instance SET gcmi_parameters = json_set(gcmi_parameters,
    '$."data-format".post_logout_redirect_uris', json('{"multiple":true,"read":true,"write":true}')) WHERE gcmi_name = 'database';`;
  execFileSync('sqlite3', ['-bail', sandbox.path('glewlwyd.db')], { input: `${readFileSync(DB_SCRIPT, 'utf8')}\n${declare}\n` });
}

/** The packaged front end with its symlinks resolved, and a real config.json. */
function copyWebapp(sandbox: OpSandbox): void {
  cpSync(WEBAPP, sandbox.path('webapp'), { recursive: true, dereference: true });
  rmSync(sandbox.path('webapp', 'config.json'), { recursive: true, force: true });
  writeFileSync(sandbox.path('webapp', 'config.json'), readFileSync('/usr/share/glewlwyd/templates/config.json'));
}

/** A small client of Glewlwyd's admin API, logged in as the admin user Debian's script creates. */
async function adminApi(base: string): Promise<(method: string, path: string, body?: unknown) => Promise<void>> {
  let cookie = '';
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.getSetCookie();
    if (set.length) cookie = set.map((c) => c.split(';')[0]).join('; ');
    const text = await res.text();
    if (!res.ok) throw new Error(`Glewlwyd admin API ${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
  };
  await call('POST', '/auth/', { username: 'admin', password: 'password' });
  return call;
}

/** Parameters shared by both plugin instances. */
function pluginParameters(issuer: string, accessTokenTTL: number): Record<string, unknown> {
  return {
    iss: issuer,
    'access-token-duration': accessTokenTTL,
    'refresh-token-duration': 1209600,
    'code-duration': 600,
    'refresh-token-rolling': false,
    // One-time-use refresh tokens: each refresh returns a new one and disables the old (rotation).
    'refresh-token-one-use': 'always',
    'allow-non-oidc': false,
    'auth-type-code-enabled': true,
    'auth-type-refresh-enabled': true,
    'auth-type-token-enabled': false,
    'auth-type-password-enabled': false,
    'auth-type-client-enabled': false,
    'auth-type-code-revoke-replayed': true,
    'pkce-allowed': true,
    'pkce-method-plain-allowed': false,
    // RFC 9207: Glewlwyd adds `iss` to authorization responses (without advertising it in discovery).
    'oauth-as-iss-id': true,
    'session-management-allowed': true,
    'session-cookie-name': 'GLEWLWYD2_OIDC_SID',
    'session-cookie-expiration': 3600,
    // Needed by the end-session page even without front-channel clients (it crashes otherwise).
    'front-channel-logout-allowed': true,
    // The e-mail always; the name only when asked for with the `claims` request parameter (OIDC Core §5.5), and
    // then only where it is asked for (ID token or UserInfo).
    'email-claim': 'mandatory',
    'email-claim-scope': ['email'],
    'name-claim': 'on-demand',
    'name-claim-scope': [],
    'scope-claim': 'no',
    claims: [],
    'subject-type': 'public',
    'jwks-show': true,
  };
}

/** Starts Glewlwyd with the test client and user. Call in beforeAll; `close()` in afterAll. */
export async function startGlewlwyd(options: GlewlwydOptions): Promise<Glewlwyd> {
  assertInstalled(['glewlwyd', 'sqlite3'], 'glewlwyd');
  const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'glewlwyd']).toString();
  const sandbox = new OpSandbox('glewlwyd');
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    copyWebapp(sandbox);
    initDatabase(sandbox);
    writeFileSync(sandbox.path('glewlwyd.conf'), glewlwydConf(sandbox, port, base));
    sandbox.handOver();
    sandbox.start('glewlwyd', 'glewlwyd', ['--config-file', sandbox.path('glewlwyd.conf')]);
    await sandbox.waitFor(`${base}/config/`);

    const api = await adminApi(base);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'interop-rs256', alg: 'RS256', use: 'sig' };
    const issuer = `${base}/api/oidc`;
    const hsIssuer = `${base}/api/oidchs`;
    const ttl = options.accessTokenTTL ?? 3600;
    await api('POST', '/mod/plugin/', {
      module: 'oidc', name: 'oidc', display_name: 'OpenID Connect (RS256)', enabled: true,
      parameters: { ...pluginParameters(issuer, ttl), 'jwks-private': JSON.stringify({ keys: [jwk] }), 'default-kid': jwk.kid },
    });
    await api('POST', '/mod/plugin/', {
      module: 'oidc', name: 'oidchs', display_name: 'OpenID Connect (HS256)', enabled: true,
      parameters: { ...pluginParameters(hsIssuer, ttl), 'jwt-type': 'sha', 'jwt-key-size': '256', key: randomBytes(32).toString('hex') },
    });
    for (const scope of ['profile', 'email']) {
      await api('POST', '/scope/', { name: scope, display_name: scope, description: `OpenID Connect ${scope}`, password_required: true, password_max_age: 0, scheme: {} });
    }
    await api('POST', '/user/', { ...GLEWLWYD_USER, scope: ['openid', 'profile', 'email'], enabled: true });
    await api('POST', '/client/', {
      client_id: GLEWLWYD_CLIENT_ID,
      name: 'express-oauth-login interop tests',
      enabled: true,
      confidential: true,
      // Checked at the token endpoint (client_secret_basic), unlike `client_secret`.
      password: GLEWLWYD_CLIENT_SECRET,
      redirect_uri: options.redirectUris,
      post_logout_redirect_uris: options.postLogoutRedirectUris,
      authorization_type: ['code', 'refresh_token'],
      token_endpoint_auth_method: ['client_secret_basic'],
      scope: ['openid', 'profile', 'email'],
    });
    for (const iss of [issuer, hsIssuer]) {
      await sandbox.waitFor(`${iss}/.well-known/openid-configuration`, 10_000, (r) => r.status === 200);
    }
    return { base, issuer, hsIssuer, version, output: () => sandbox.output(), close: () => sandbox.close() };
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

/**
 * Signs in on Glewlwyd's own login page (a script page: password form, then the scope grant, then "Continue") and
 * returns when the browser has left Glewlwyd for a URL `done` accepts. The page re-renders as its API calls return
 * (a grant screen can show for a moment and be replaced by "Continue"), so each step is tried with a short timeout
 * and the state is read again when the element went away.
 */
export async function signInAtGlewlwyd(
  page: Page,
  op: Pick<Glewlwyd, 'base'>,
  done: (url: string) => boolean,
  user: { username: string; password: string } = GLEWLWYD_USER,
): Promise<{ passwordAsked: boolean }> {
  const form = page.locator('#username');
  const grant = page.getByRole('button', { name: 'Grant access' });
  const proceed = page.getByRole('button', { name: 'Continue' });
  const attempt = async (step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
    }
  };
  let passwordAsked = false;
  const deadline = Date.now() + 30_000;
  while (!done(page.url())) {
    if (Date.now() > deadline) throw new Error(`Glewlwyd sign-in stuck at ${page.url()}: ${(await page.textContent('body'))?.slice(0, 500)}`);
    if (!page.url().startsWith(`${op.base}/login.html`)) {
      await page.waitForTimeout(50);
    } else if (await form.isVisible()) {
      passwordAsked = true;
      await attempt(async () => {
        await form.fill(user.username, { timeout: 2000 });
        await page.fill('#password', user.password, { timeout: 2000 });
        await page.click('#loginbut', { timeout: 2000 });
        await form.waitFor({ state: 'hidden', timeout: 5000 });
      });
    } else if (await grant.isVisible()) {
      await attempt(async () => {
        const unchecked = page.locator('input[type=checkbox]:not(:checked):not(:disabled)');
        while (await unchecked.count()) await unchecked.first().check({ timeout: 2000 });
        await grant.click({ timeout: 2000 });
        await grant.waitFor({ state: 'hidden', timeout: 5000 });
      });
    } else if ((await proceed.isVisible()) && (await proceed.isEnabled())) {
      await attempt(async () => {
        await proceed.click({ timeout: 2000 });
        await page.waitForURL((u) => !u.href.startsWith(`${op.base}/login.html`), { timeout: 5000 });
      });
    } else {
      await page.waitForTimeout(50);
    }
  }
  return { passwordAsked };
}
