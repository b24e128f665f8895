/**
 * `METRICS=1 npm start`: the example app, as `node example-app/server.js` in its own process on the built package,
 * registers OpenTelemetry with the Prometheus exporter, serves GET /metrics and shows what the middleware recorded.
 * Without METRICS there is no /metrics and no panel.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startExampleApp } from '../example-app/server.js';
import { Browser, login } from './helpers/flow.js';
import { expressExecArgv } from './helpers/express-major.js';

let child: ChildProcess;
let output = '';
let url: string;

beforeAll(async () => {
  if (!existsSync(join(process.cwd(), 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', IDP_PORT: '0', METRICS: '1' };
  for (const name of ['OAUTH_ISSUER', 'OAUTH_CLIENT_ID', 'OAUTH_CLIENT_SECRET', 'OAUTH_BASE_URL', 'REDIS_URL']) delete env[name];
  child = spawn(process.execPath, [...expressExecArgv(), 'example-app/server.js'], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!/Metrics:\s+http/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`METRICS=1 node example-app/server.js did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  url = /Example app:\s+(http:\/\/\S+)/.exec(output)![1]!;
}, 30_000);
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

test('after a login, GET /metrics has the middleware\'s metrics in Prometheus format, and the pages show them', async () => {
  expect(output).toContain(`Metrics:      ${url}/metrics`);
  const browser = new Browser();
  const { final } = await login(browser, url, { returnTo: '/profile' });
  expect(final.status).toBe(200);
  expect(final.body).toContain('What the middleware recorded');
  expect(final.body).toContain('express_oauth_login.logins');

  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  expect(text).toMatch(/^express_oauth_login_logins_total\{[^}]*express_oauth_login_outcome="ok"[^}]*\} 1$/m);
  // Histograms (unit s): the exporter may add a _seconds suffix.
  expect(text).toMatch(/^express_oauth_login_login_duration(_seconds)?_count\{[^}]*outcome="ok"[^}]*\} 1$/m);
  for (const endpoint of ['discovery', 'jwks', 'token']) {
    expect(text).toMatch(new RegExp(`^express_oauth_login_idp_request_duration(_seconds)?_count\\{[^}]*express_oauth_login_idp_endpoint="${endpoint}"[^}]*\\} [1-9]`, 'm'));
  }
  expect(text).toMatch(/^express_oauth_login_session_store_duration(_seconds)?_count\{[^}]*session_store_type="memory"[^}]*\} [1-9]/m);
  // Nothing personal in the exposition: no user, no e-mail.
  expect(text).not.toContain('alice');

  // The home page shows the same numbers and the latest spans (the callback's among them).
  const home = await browser.request(`${url}/`);
  expect(home.body).toContain('express_oauth_login.callback');
  expect(home.headers.get('cache-control')).toBe('no-store');
}, 30_000);

test('without METRICS there is no /metrics and no panel', async () => {
  const app = await startExampleApp({ port: 0, idpPort: 0, quiet: true });
  try {
    expect(app.metrics).toBe(false);
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    expect(await (await fetch(`${app.url}/`)).text()).not.toContain('What the middleware recorded');
  } finally {
    await app.close();
  }
});
