/**
 * The published entry point loads both ways a consumer may load it: `import` (ESM) and `require()` (CommonJS on
 * Node >= 20.19, which can require an ES module). The consumer lives in a temporary project whose node_modules
 * links to this package, so the name resolves through package.json "exports" exactly as an installed copy would,
 * to the built dist/ (`npm test` builds it first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.cwd();
const expected = ['oauthLogin', 'requireAuth', 'OAuthLoginError'];

function run(file: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'eol-pkg-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'express-oauth-login'), 'dir');
    writeFileSync(join(dir, file), source);
    return execFileSync(process.execPath, [join(dir, file)], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does).');
});

test('package.json exports point at the built entry and its types', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(pkg.exports['.'].default).toBe('./dist/index.js');
  expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
  expect(existsSync(join(root, 'dist/index.d.ts'))).toBe(true);
});

test('require() loads the package (CommonJS consumer)', () => {
  const source = `const lib = require('express-oauth-login');
process.stdout.write(JSON.stringify(Object.keys(lib).filter((k) => typeof lib[k] === 'function')));`;
  const names = JSON.parse(run('consumer.cjs', source));
  for (const name of expected) expect(names).toContain(name);
});

test('import loads the package (ESM consumer) and oauthLogin() returns a router', () => {
  const source = `import { oauthLogin, requireAuth } from 'express-oauth-login';
const router = oauthLogin({ issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's', baseURL: 'https://app.example.com' });
process.stdout.write(JSON.stringify({ router: typeof router, stack: Array.isArray(router.stack), guard: typeof requireAuth() }));`;
  expect(JSON.parse(run('consumer.mjs', source))).toEqual({ router: 'function', stack: true, guard: 'function' });
});
