/**
 * LemonLDAP::NG (Debian's `lemonldap-ng`: a Perl web SSO with an OpenID Provider) on loopback, the way Debian runs
 * it: nginx in front of the portal, which runs under LemonLDAP::NG's own FastCGI server (`llng-fastcgi-server`).
 * The configuration is written as files: `lemonldap-ng.ini` (found through LLNG_DEFAULTCONFFILE) pointing at a
 * File configuration backend with one `lmConf-1.json`, sessions in files, and users in an SQLite database read by
 * the DBI authentication module. One confidential OIDC relying party (the test apps) and one test user.
 *
 * Setup facts about LemonLDAP::NG 2.16.1 on Debian 12, each found the hard way:
 * - The FastCGI server refuses to run as root; nginx and it run as `nobody` here when the tests are root.
 * - Installed with --no-install-recommends, the portal does not start: it always loads its captcha module, which needs
 *   GD::SecurityImage and Image::Magick (libgd-securityimage-perl, libimage-magick-perl), and the OIDC issuer needs
 *   String::Random, IO::String and Crypt::OpenSSL::Bignum (libstring-random-perl, libio-string-perl,
 *   libcrypt-openssl-bignum-perl), all only Recommends; the DBI module needs DBD::SQLite (libdbd-sqlite3-perl).
 *   The portal then answers "Initialization failed" (500) to every request: the FastCGI log names the module.
 * - ID tokens carry only the protocol claims: profile claims are in UserInfo alone (unless
 *   oidcRPMetaDataOptionsIDTokenForceClaims). Refresh tokens are not rotated (2.16 has no option for it); an
 *   online refresh token (oidcRPMetaDataOptionsRefreshToken) dies with the SSO session.
 * - Like Glewlwyd, it does not form-decode the client id and secret of HTTP Basic authentication (RFC 6749 §2.3.1;
 *   openid-client encodes `-`, `_`, `.` and `~` as %XX, as HTML 4.01 form encoding does): a secret with any of them
 *   is "Wrong credentials". Both are letters and digits here.
 * - Without a local session cache (localSessionStorage) it logs "Local storage not defined" as an error for every
 *   token; harmless.
 * - The cookie domain is required and gets a leading dot (`.127.0.0.1`), which Chromium accepts for an IP host.
 * - Consent is stored per user (persistent sessions): only a user's first login shows the consent page. That page
 *   leaves `_url` (the portal's /oauth2 path) in the `lemonldappdata` cookie, and until the browser session ends or
 *   the user authenticates again, an RP-initiated logout ends the SSO session but redirects to /oauth2 instead of
 *   post_logout_redirect_uri (see test/interop-lemonldap.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { freePort } from '../redis.js';
import { OpSandbox, assertInstalled } from './processes.js';

/** Letters and digits only, like Glewlwyd's (see above). */
export const LEMONLDAP_CLIENT_ID = 'eolinterop';
export const LEMONLDAP_CLIENT_SECRET = 'LemonldapInteropClientSecret0123456789';
export const LEMONLDAP_USER = { uid: 'dana', password: 'dana-password-7', cn: 'Dana Interop', mail: 'dana@example.org' };
/** A second user, for the one test that needs a user who has never consented (LemonLDAP::NG stores consent per user). */
export const LEMONLDAP_NEW_USER = { uid: 'erin', password: 'erin-password-8', cn: 'Erin Interop', mail: 'erin@example.org' };

export interface LemonldapOptions {
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTTL?: number;
}

export interface Lemonldap {
  /** The portal's URL, also the issuer. */
  issuer: string;
  /** The Debian package version, e.g. 2.16.1+ds-deb12u10. */
  version: string;
  output(): string;
  close(): Promise<void>;
}

const PORTAL = '/usr/share/lemonldap-ng/portal';

function ini(sandbox: OpSandbox): string {
  return `[all]
logLevel = warn
checkTime = 1
[configuration]
type = File
dirName = ${sandbox.path('conf')}
[portal]
staticPrefix = /static
templateDir = ${PORTAL}/templates
languages = en
`;
}

function lmConf(sandbox: OpSandbox, issuer: string, options: LemonldapOptions): Record<string, unknown> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const files = (dir: string) => ({ Directory: sandbox.path(dir), LockDirectory: sandbox.path(dir, 'lock') });
  return {
    cfgNum: 1,
    cfgAuthor: 'express-oauth-login tests',
    cfgDate: String(Math.floor(Date.now() / 1000)),
    portal: `${issuer}/`,
    domain: '127.0.0.1',
    cookieName: 'lemonldap',
    securedCookie: 0,
    sameSite: 'Lax',
    https: 0,
    // Users: an SQLite table, read by the DBI authentication and user modules (plain passwords: a test database).
    authentication: 'DBI',
    userDB: 'Same',
    passwordDB: 'Null',
    registerDB: 'Null',
    dbiAuthChain: `dbi:SQLite:dbname=${sandbox.path('users.db')}`,
    dbiAuthUser: '',
    dbiAuthPassword: '',
    dbiAuthTable: 'users',
    dbiUserTable: 'users',
    dbiAuthLoginCol: 'uid',
    dbiAuthPasswordCol: 'password',
    dbiAuthPasswordHash: '',
    dbiExportedVars: { uid: 'uid', cn: 'cn', mail: 'mail' },
    exportedVars: {},
    globalStorage: 'Apache::Session::File',
    globalStorageOptions: { ...files('sessions'), generateModule: 'Lemonldap::NG::Common::Apache::Session::Generate::SHA256' },
    persistentStorage: 'Apache::Session::File',
    persistentStorageOptions: files('psessions'),
    oidcStorage: 'Apache::Session::File',
    oidcStorageOptions: files('oidcsessions'),
    localSessionStorage: '',
    localSessionStorageOptions: {},
    locationRules: { '127.0.0.1': { default: 'accept' } },
    loginHistoryEnabled: 0,
    notification: 0,
    portalDisplayResetPassword: 0,
    portalDisplayRegister: 0,
    // The OpenID Provider.
    issuerDBOpenIDConnectActivation: 1,
    issuerDBOpenIDConnectPath: '^/oauth2/',
    oidcServiceMetaDataIssuer: issuer,
    oidcServicePrivateKeySig: privateKey,
    oidcServicePublicKeySig: publicKey,
    oidcServiceKeyIdSig: 'interop-rs256',
    oidcServiceAllowAuthorizationCodeFlow: 1,
    oidcRPMetaDataOptions: {
      eolinterop: {
        oidcRPMetaDataOptionsDisplayName: 'express-oauth-login interop tests',
        oidcRPMetaDataOptionsClientID: LEMONLDAP_CLIENT_ID,
        oidcRPMetaDataOptionsClientSecret: LEMONLDAP_CLIENT_SECRET,
        oidcRPMetaDataOptionsRedirectUris: options.redirectUris.join(' '),
        oidcRPMetaDataOptionsPostLogoutRedirectUris: options.postLogoutRedirectUris.join(' '),
        oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
        oidcRPMetaDataOptionsRequirePKCE: 1,
        // Refresh tokens tied to the SSO session (not offline_access).
        oidcRPMetaDataOptionsRefreshToken: 1,
        oidcRPMetaDataOptionsAccessTokenExpiration: options.accessTokenTTL ?? 3600,
        oidcRPMetaDataOptionsIDTokenExpiration: 3600,
        oidcRPMetaDataOptionsBypassConsent: 0,
        oidcRPMetaDataOptionsLogoutBypassConfirm: 0,
      },
    },
    oidcRPMetaDataExportedVars: { eolinterop: { name: 'cn', email: 'mail', preferred_username: 'uid' } },
  };
}

function nginxConf(sandbox: OpSandbox, port: number, fastcgiPort: number): string {
  const tmp = (name: string) => sandbox.path('nginx', name);
  // Debian's /etc/lemonldap-ng/portal-nginx.conf, on loopback, with every path in the sandbox.
  return `worker_processes 1;
pid ${tmp('nginx.pid')};
error_log ${tmp('error.log')} warn;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${tmp('body')};
  fastcgi_temp_path ${tmp('fastcgi')};
  proxy_temp_path ${tmp('proxy')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  server {
    listen 127.0.0.1:${port};
    server_name 127.0.0.1;
    root ${PORTAL}/htdocs/;
    if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {
      rewrite ^/(.*)$ /index.psgi/$1 break;
    }
    location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass 127.0.0.1:${fastcgiPort};
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME $document_root$sc;
      fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
      fastcgi_param PATH_INFO $fastcgi_path_info;
    }
    location /static/ { alias ${PORTAL}/htdocs/static/; }
    location /javascript/ { alias /usr/share/javascript/; }
  }
}
`;
}

/** Starts nginx and the LemonLDAP::NG portal with the test client and user. Call in beforeAll; `close()` in afterAll. */
export async function startLemonldap(options: LemonldapOptions): Promise<Lemonldap> {
  assertInstalled(['nginx', 'llng-fastcgi-server', 'sqlite3'], 'lemonldap-ng lemonldap-ng-fastcgi-server nginx sqlite3');
  const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'liblemonldap-ng-portal-perl']).toString();
  const sandbox = new OpSandbox('lemonldap');
  try {
    const port = await freePort();
    const fastcgiPort = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    for (const dir of ['conf', 'sessions/lock', 'psessions/lock', 'oidcsessions/lock', 'nginx']) mkdirSync(sandbox.path(dir), { recursive: true });
    const rows = [LEMONLDAP_USER, LEMONLDAP_NEW_USER].map((u) => `INSERT INTO users VALUES ('${u.uid}', '${u.password}', '${u.cn}', '${u.mail}');\n`);
    execFileSync('sqlite3', ['-bail', sandbox.path('users.db')], {
      input: `CREATE TABLE users (uid TEXT PRIMARY KEY, password TEXT NOT NULL, cn TEXT, mail TEXT);\n${rows.join('')}`,
    });
    writeFileSync(sandbox.path('lemonldap-ng.ini'), ini(sandbox));
    writeFileSync(sandbox.path('conf', 'lmConf-1.json'), JSON.stringify(lmConf(sandbox, issuer, options), null, 1));
    writeFileSync(sandbox.path('nginx.conf'), nginxConf(sandbox, port, fastcgiPort));
    sandbox.handOver();
    sandbox.start('llng-fastcgi-server', '/usr/sbin/llng-fastcgi-server', [
      '--foreground', '--listen', `127.0.0.1:${fastcgiPort}`, '--proc', '2', '--pid', sandbox.path('fastcgi.pid'),
    ], {
      LLNG_DEFAULTCONFFILE: sandbox.path('lemonldap-ng.ini'),
      // Its log to stderr (kept for error messages) instead of syslog.
      LLNG_DEFAULTLOGGER: 'Lemonldap::NG::Common::Logger::Std',
    });
    sandbox.start('nginx', 'nginx', ['-e', sandbox.path('nginx', 'error.log'), '-p', sandbox.path('nginx'), '-c', sandbox.path('nginx.conf'), '-g', 'daemon off;']);
    await sandbox.waitFor(`${issuer}/.well-known/openid-configuration`, 30_000);
    return { issuer, version, output: () => sandbox.output(), close: () => sandbox.close() };
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

/**
 * Signs in on the portal's login form, accepts the consent page if it comes, and returns when the browser has left
 * the portal for a URL `done` accepts.
 */
export async function signInAtLemonldap(
  page: Page,
  op: Pick<Lemonldap, 'issuer'>,
  done: (url: string) => boolean,
  user: { uid: string; password: string } = LEMONLDAP_USER,
): Promise<{ passwordAsked: boolean; consentAsked: boolean }> {
  let passwordAsked = false;
  let consentAsked = false;
  const form = page.locator('input[name=user]');
  const accept = page.locator('form.confirm button.positive');
  const deadline = Date.now() + 20_000;
  while (!done(page.url())) {
    if (Date.now() > deadline) throw new Error(`LemonLDAP::NG sign-in stuck at ${page.url()}: ${(await page.textContent('body'))?.replace(/\s+/g, ' ').slice(0, 500)}`);
    if (!page.url().startsWith(op.issuer)) {
      await page.waitForTimeout(50);
      continue;
    }
    if (await form.isVisible()) {
      passwordAsked = true;
      await form.fill(user.uid);
      await page.fill('input[name=password]', user.password);
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    } else if (await accept.isVisible()) {
      consentAsked = true;
      await Promise.all([page.waitForNavigation(), accept.click()]);
    } else {
      await page.waitForTimeout(50);
    }
  }
  return { passwordAsked, consentAsked };
}
