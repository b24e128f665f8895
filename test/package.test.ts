/**
 * The package as a consumer gets it: `npm pack`'s tarball, installed into a fresh project next to this run's
 * Express major (jest.config.js runs the suite on Express 4 and 5), loaded with `import` and with `require()`
 * (Node >= 20.19 can require an ES module). Each consumer is a real process: it logs a user in at the test IdP,
 * answers a bad callback with a 4xx page (no hang, no crash) and an anonymous API call with 401 JSON.
 *
 * The consumer's node_modules holds the extracted tarball and links to exactly the packages its package.json
 * declares (plus express), taken from this repo's install: a dependency lib/ uses but does not declare fails here.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Browser } from './helpers/browser.js';
import { EXPRESS_MAJOR, EXPRESS_PACKAGE_DIR } from './helpers/express-major.js';
import { login } from './helpers/flow.js';
import { CLIENT_ID, CLIENT_SECRET, type TestIdp, startTestIdp } from './helpers/idp.js';
import { freePort } from './helpers/redis.js';

const root = process.cwd();
let project: string;

/** Extracts the packed tarball into `dir/node_modules` and links the packages it declares. */
function install(dir: string): void {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })) as Array<{ filename: string }>;
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  execFileSync('tar', ['-xzf', join(dir, packed[0]!.filename), '-C', dir]);
  renameSync(join(dir, 'package'), join(modules, 'express-oauth-login'));
  const pkg = JSON.parse(readFileSync(join(modules, 'express-oauth-login', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(target, join(modules, name), 'dir');
  };
  for (const name of Object.keys(pkg.dependencies)) link(name, join(root, 'node_modules', name));
  link('express', EXPRESS_PACKAGE_DIR);
}

/** The consumer app, as the README's quick start writes it, in ESM or CommonJS. */
function consumerSource(kind: 'esm' | 'cjs'): string {
  const imports =
    kind === 'esm'
      ? `import { createRequire } from 'node:module';
import express from 'express';
import { oauthErrorHandler, oauthLogin, oauthSession, requireAuth } from 'express-oauth-login';
const require = createRequire(import.meta.url);`
      : `const express = require('express');
const { oauthErrorHandler, oauthLogin, oauthSession, requireAuth } = require('express-oauth-login');`;
  return `${imports}
const app = express();
app.use(oauthSession({ secret: 'a-consumer-secret-that-is-long-enough-0123', cookie: { name: 'consumer.sid' } }));
app.use(oauthLogin({ allowInsecureRequests: true }));
app.get('/', (_req, res) => res.json({ express: require('express/package.json').version }));
app.get('/api/me', requireAuth(), (req, res) => res.json({ sub: req.user.sub }));
// OpenTelemetry is an optional peer: this consumer does not install it, so no module of it may be loaded.
app.get('/loaded', (_req, res) => res.json(Object.keys(require.cache).filter((f) => f.includes('@opentelemetry'))));
app.use(oauthErrorHandler());
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`;
}

async function startConsumer(kind: 'esm' | 'cjs', env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const file = join(project, kind === 'esm' ? 'consumer.mjs' : 'consumer.cjs');
  writeFileSync(file, consumerSource(kind));
  // No NODE_OPTIONS from jest, no test hooks: the consumer resolves everything through its own node_modules.
  const child = spawn(process.execPath, [file], { cwd: project, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!output.includes('listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the ${kind} consumer did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, output: () => output };
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does).');
  project = mkdtempSync(join(tmpdir(), 'eol-consumer-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  install(project);
}, 60_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

test('package.json exports point at the built entry and its types, and the tarball ships them', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(pkg.exports['.'].default).toBe('./dist/index.js');
  expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
  const installed = join(project, 'node_modules', 'express-oauth-login');
  expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
  expect(existsSync(join(installed, 'dist/index.d.ts'))).toBe(true);
  // Sources, tests and the example app stay out of the package.
  expect(existsSync(join(installed, 'lib'))).toBe(false);
  expect(existsSync(join(installed, 'test'))).toBe(false);
});

describe.each(['esm', 'cjs'] as const)(`a %s consumer of the tarball on Express ${EXPRESS_MAJOR}`, (kind) => {
  let idp: TestIdp;
  let url: string;
  let consumer: Awaited<ReturnType<typeof startConsumer>>;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    idp = await startTestIdp({ appBases: [url] });
    consumer = await startConsumer(kind, {
      PORT: String(port),
      OAUTH_ISSUER: idp.issuer,
      OAUTH_CLIENT_ID: CLIENT_ID,
      OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      OAUTH_BASE_URL: url,
    });
  }, 30_000);
  afterAll(async () => {
    consumer?.child.kill('SIGTERM');
    await idp?.close();
  });

  test('it loads the Express major of this run', async () => {
    const res = await new Browser().request(`${url}/`);
    expect(JSON.parse(res.body).express).toMatch(new RegExp(`^${EXPRESS_MAJOR}\\.`));
  });

  test('a user logs in at the IdP and the protected API knows them', async () => {
    const browser = new Browser();
    const { callback } = await login(browser, url, { returnTo: '/api/me' });
    expect(callback.status).toBe(302);
    const me = await browser.request(`${url}/api/me`, { headers: { accept: 'application/json' } });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({ sub: 'alice' });
  });

  test('a bad callback gets the 400 page, and the process lives on', async () => {
    const res = await new Browser().request(`${url}/callback?code=forged&state=forged`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.body).toContain('state_unknown');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(consumer.child.exitCode).toBeNull();
    expect(consumer.output()).not.toMatch(/deprecated|TypeError|Error:/);
  });

  test('without @opentelemetry/api installed, a login loaded none of it (an optional peer dependency)', async () => {
    await login(new Browser(), url, { returnTo: '/api/me' });
    const res = await new Browser().request(`${url}/loaded`);
    expect(JSON.parse(res.body)).toEqual([]);
    expect(existsSync(join(project, 'node_modules', '@opentelemetry'))).toBe(false);
  });

  test('an anonymous API call gets 401 JSON', async () => {
    const res = await new Browser().request(`${url}/api/me`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', message: expect.any(String) });
  });
});
