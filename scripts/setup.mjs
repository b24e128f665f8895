#!/usr/bin/env node
/**
 * Makes sure the system packages the test suite needs are installed: redis-server and redis-cli (Redis tests,
 * including a 3-node cluster) and Chromium (end-to-end browser tests). On Debian as root it installs them with
 * apt-get; otherwise it fails with a message that says what to install. Tests never skip silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const needs = [
  { bin: 'redis-server', pkg: 'redis-server' },
  { bin: 'redis-cli', pkg: 'redis-tools' },
  { bin: 'chromium', pkg: 'chromium', path: '/usr/bin/chromium' },
];

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const missing = needs.filter((n) => !(n.path ? existsSync(n.path) : has(n.bin)));

if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((n) => n.pkg))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';
if ((!isRoot || !has('apt-get')) && !inCI && missing.every((n) => n.bin === 'chromium')) {
  // Only the browser is missing on a developer machine: jest.config.js leaves the browser tests out and says so.
  console.warn('Chromium (/usr/bin/chromium) is missing: the end-to-end browser tests will be left out. Install it with: sudo apt-get install -y chromium');
  process.exit(0);
}
if (!isRoot || !has('apt-get')) {
  console.error(
    `express-oauth-login tests need: ${missing.map((n) => n.bin).join(', ')}.\n` +
      `Install them (Debian/Ubuntu: sudo apt-get install -y ${pkgs.join(' ')}) and run npm test again.`,
  );
  process.exit(1);
}
console.log(`Installing ${pkgs.join(', ')} with apt-get ...`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
// Debian's redis-server package starts a system service on port 6379; the tests start their own servers.
spawnSync('sh', ['-c', 'service redis-server stop >/dev/null 2>&1 || true']);
const still = needs.filter((n) => !(n.path ? existsSync(n.path) : has(n.bin)));
if (still.length) {
  console.error(`Still missing after apt-get: ${still.map((n) => n.bin).join(', ')}`);
  process.exit(1);
}
