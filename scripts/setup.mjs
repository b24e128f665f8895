#!/usr/bin/env node
/**
 * Makes sure the system packages the test suite needs are installed: redis-server and redis-cli (Redis tests,
 * including a 3-node cluster), Chromium (end-to-end and interop browser tests), and the two OpenID Providers of the
 * interop suites with what they run on: Glewlwyd (and sqlite3), LemonLDAP::NG's portal with its FastCGI server and
 * nginx, plus the Perl modules its portal needs that Debian only recommends. On Debian as root it installs them with
 * apt-get and stops the services the packages start (the tests start their own instances on loopback); otherwise it
 * fails with a message that says what to install. Tests never skip silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const perl = (module) => spawnSync('perl', [`-M${module}`, '-e', '1'], { stdio: 'ignore' }).status === 0;
const needs = [
  { bin: 'redis-server', pkg: 'redis-server' },
  { bin: 'redis-cli', pkg: 'redis-tools' },
  { bin: 'chromium', pkg: 'chromium', path: '/usr/bin/chromium' },
  { bin: 'glewlwyd', pkg: 'glewlwyd' },
  { bin: 'sqlite3', pkg: 'sqlite3' },
  { bin: 'nginx', pkg: 'nginx', path: '/usr/sbin/nginx' },
  { bin: 'llng-fastcgi-server', pkg: 'lemonldap-ng-fastcgi-server', path: '/usr/sbin/llng-fastcgi-server' },
  { bin: 'LemonLDAP::NG portal', pkg: 'lemonldap-ng', check: () => perl('Lemonldap::NG::Portal::Main') },
  // Only recommended by Debian's LemonLDAP::NG packages, yet without them its portal answers 500 to everything.
  { bin: 'perl GD::SecurityImage', pkg: 'libgd-securityimage-perl', check: () => perl('GD::SecurityImage') },
  { bin: 'perl Image::Magick', pkg: 'libimage-magick-perl', check: () => perl('Image::Magick') },
  { bin: 'perl String::Random', pkg: 'libstring-random-perl', check: () => perl('String::Random') },
  { bin: 'perl IO::String', pkg: 'libio-string-perl', check: () => perl('IO::String') },
  { bin: 'perl Crypt::OpenSSL::Bignum', pkg: 'libcrypt-openssl-bignum-perl', check: () => perl('Crypt::OpenSSL::Bignum') },
  { bin: 'perl DBD::SQLite', pkg: 'libdbd-sqlite3-perl', check: () => perl('DBD::SQLite') },
];
// Services Debian's packages start on install (where the machine lets them): the tests start their own.
const SERVICES = ['redis-server', 'nginx', 'lemonldap-ng-fastcgi-server', 'glewlwyd'];

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const present = (n) => (n.check ? n.check() : n.path ? existsSync(n.path) : has(n.bin));
const missing = needs.filter((n) => !present(n));

if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((n) => n.pkg))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';
if ((!isRoot || !has('apt-get')) && !inCI && missing.every((n) => n.bin === 'chromium')) {
  // Only the browser is missing on a developer machine: jest.config.js leaves the browser tests out and says so.
  console.warn('Chromium (/usr/bin/chromium) is missing: the end-to-end and interop browser tests will be left out. Install it with: sudo apt-get install -y chromium');
  process.exit(0);
}
if (!isRoot || !has('apt-get')) {
  console.error(
    `express-oauth-login tests need: ${missing.map((n) => n.bin).join(', ')}.\n` +
      `Install them (Debian/Ubuntu: sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}) and run npm test again.`,
  );
  process.exit(1);
}
console.log(`Installing ${pkgs.join(', ')} with apt-get ...`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
for (const service of SERVICES) spawnSync('sh', ['-c', `service ${service} stop >/dev/null 2>&1 || true`]);
const still = needs.filter((n) => !present(n));
if (still.length) {
  console.error(`Still missing after apt-get: ${still.map((n) => n.bin).join(', ')}`);
  process.exit(1);
}
