/**
 * `npm run bench:otel`: what OpenTelemetry costs an authenticated GET behind requireAuth() (issue 15), in app CPU
 * per request, with the same fast IdP and Redis as `npm run bench` (bench/README.md). Five builds of the same app
 * (bench/otel-app.js), each in its own process:
 *
 * - `today`:     the package built from the commit before OpenTelemetry support (BENCH_OTEL_BASE, default the
 *                merge base with main), which has no telemetry code at all;
 * - `absent`:    this package, in a directory whose node_modules has no @opentelemetry: what an app that does
 *                not install it runs (its one attempt to find the package fails, nothing is loaded);
 * - `noop`:      this package with @opentelemetry/api installed but no provider registered;
 * - `today-sdk`: `today` in an app that registered the OpenTelemetry SDK (a periodic metric reader, traces
 *                batched, the AsyncLocalStorage context manager in use): what OpenTelemetry costs the app itself;
 * - `sdk`:       this package in that same app: `sdk / today-sdk` is what the middleware's recording adds.
 *
 * `noop-copy` (only when listed in BENCH_OTEL_VARIANTS) is `noop` run from a copy like `absent`'s: a control for
 * where the package lies on disk.
 *
 * Each round measures every variant in turn (the order rotates every round), as `npm run bench` does; each ratio
 * is the median of the per-round ratios, so slow drift of a shared machine cancels out. BENCH_OTEL_PARALLEL=1
 * loads all the apps at the same time instead (fairer against bursts of other load, but only with idle cores).
 * Knobs: BENCH_ROUNDS (10), BENCH_SECONDS (3), BENCH_CONNECTIONS (16), BENCH_STORES (memory,redis),
 * BENCH_OTEL_VARIANTS. Writes bench/results/otel.md and otel.json.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { loginOnce } from './driver.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const resultsDir = join(here, 'results');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const STORES = (process.env.BENCH_STORES ?? 'memory,redis').split(',');
const PARALLEL = process.env.BENCH_OTEL_PARALLEL === '1';
const VARIANTS = (process.env.BENCH_OTEL_VARIANTS ?? 'today,absent,noop,today-sdk,sdk').split(',');
const SESSIONS = 32;
const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef0123456789abcdef';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const log = (...args) => console.error(`[bench:otel ${new Date().toISOString().slice(11, 19)}]`, ...args);
const temporary = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'eol-bench-otel-redis-'));
  temporary.push(dir);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  child.on('error', (err) => {
    console.error(`redis-server could not start (${err.message}): run \`npm run setup\` first.`);
    process.exit(1);
  });
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 100 ? null : 50) });
  client.on('error', () => {});
  await client.ping();
  return { url: `redis://127.0.0.1:${port}`, stop: () => (client.disconnect(), child.kill()) };
}

function startChild(script, env, name) {
  const child = fork(join(here, script), [], { env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (cmd, field) =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m[field]));
      child.send({ cmd });
    });
  return new Promise((resolve, reject) => {
    child.once('message', (info) => resolve({ ...info, name, child, cpu: async () => {
      const c = await ask('cpu', 'cpu');
      return c.user + c.system;
    }, loaded: () => ask('loaded', 'loaded') }));
    child.once('exit', (code) => reject(new Error(`${script} (${name}) exited with code ${code}`)));
  });
}

/** `today`: the package as built from `base`, the commit before OpenTelemetry support. */
function buildToday(base) {
  const dir = mkdtempSync(join(os.tmpdir(), 'eol-bench-otel-today-'));
  temporary.push(dir);
  execFileSync('sh', ['-c', `git archive ${base} lib package.json tsconfig.json tsconfig.build.json | tar -x -C "${dir}"`], { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: 'inherit' });
  return join(dir, 'dist/index.js');
}

/**
 * `absent`: this package's dist/ next to a node_modules that holds everything but @opentelemetry (`keep`: with it,
 * the `noop-copy` control: the same copy, the package installed).
 */
function withoutOpenTelemetry(keep = false) {
  const dir = mkdtempSync(join(os.tmpdir(), 'eol-bench-otel-absent-'));
  temporary.push(dir);
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (keep || name !== '@opentelemetry') symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
  }
  return join(dir, 'dist/index.js');
}

async function authedRound(app) {
  let i = 0;
  const cpu0 = await app.cpu();
  const result = await autocannon({
    url: app.baseURL,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'GET', path: '/me', setupRequest: (req) => ({ ...req, headers: { ...req.headers, accept: 'application/json', cookie: app.cookies[i++ % app.cookies.length] } }) }],
  });
  const cpu = (await app.cpu()) - cpu0;
  const ok = result['2xx'];
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad) log(`  ${app.name}: ${bad} unexpected answers`);
  return { perSecond: ok / result.duration, cpuMicros: cpu / Math.max(ok, 1), bad };
}

async function main() {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: npm run bench:otel builds it first');
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  const base = process.env.BENCH_OTEL_BASE ?? execFileSync('git', ['merge-base', 'HEAD', 'main'], { cwd: root, encoding: 'utf8' }).trim();
  log(`${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}; today = ${base.slice(0, 10)}`);
  const today = buildToday(base);
  const ours = join(root, 'dist/index.js');
  const dists = { today, absent: withoutOpenTelemetry(), noop: ours, 'today-sdk': today, sdk: ours };
  if (VARIANTS.includes('noop-copy')) dists['noop-copy'] = withoutOpenTelemetry(true);
  const redis = await startRedis();
  const idp = await startChild('fast-idp.js', { BENCH_CLIENT_ID: CLIENT_ID, BENCH_CLIENT_SECRET: CLIENT_SECRET }, 'fast-idp');
  const apps = {};
  try {
    for (const store of STORES) {
      for (const variant of VARIANTS) {
        const config = { dist: dists[variant], sdk: variant.endsWith('sdk'), store, redisUrl: redis.url, issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
        const app = await startChild('otel-app.js', { BENCH_OTEL_APP: JSON.stringify(config) }, `${variant}-${store}`);
        app.cookies = [];
        for (let i = 0; i < SESSIONS; i++) app.cookies.push(await loginOnce(app.baseURL));
        app.otelModules = await app.loaded();
        apps[app.name] = app;
        log(`${app.name}: ${app.otelModules} OpenTelemetry modules loaded after ${SESSIONS} logins`);
      }
    }
    log('warming up');
    for (const app of Object.values(apps)) await autocannon({ url: `${app.baseURL}/me`, connections: CONNECTIONS, duration: 1, headers: { cookie: app.cookies[0], accept: 'application/json' } });

    const results = [];
    for (const store of STORES) {
      const rounds = [];
      for (let r = 0; r < ROUNDS; r++) {
        let round = {};
        if (PARALLEL) {
          // All at once: a busy moment of the machine costs every variant alike (needs idle cores to be fair).
          const measured = await Promise.all(VARIANTS.map((variant) => authedRound(apps[`${variant}-${store}`])));
          round = Object.fromEntries(VARIANTS.map((variant, k) => [variant, measured[k]]));
        } else {
          // One after the other, the order rotating every round, so no variant always follows the same one.
          for (const variant of VARIANTS.map((_, k) => VARIANTS[(k + r) % VARIANTS.length])) round[variant] = await authedRound(apps[`${variant}-${store}`]);
        }
        rounds.push(round);
        log(`${store} round ${r + 1}/${ROUNDS}: ${VARIANTS.map((v) => `${v} ${round[v].cpuMicros.toFixed(0)} µs ${round[v].perSecond.toFixed(0)}/s`).join(', ')}`);
      }
      const ratio = (a, b) => (VARIANTS.includes(a) && VARIANTS.includes(b) ? median(rounds.map((p) => p[a].cpuMicros / p[b].cpuMicros)) : NaN);
      results.push({
        store,
        cpuMicros: Object.fromEntries(VARIANTS.map((v) => [v, median(rounds.map((p) => p[v].cpuMicros))])),
        perSecond: Object.fromEntries(VARIANTS.map((v) => [v, median(rounds.map((p) => p[v].perSecond))])),
        otelModules: Object.fromEntries(VARIANTS.map((v) => [v, apps[`${v}-${store}`].otelModules])),
        ratios: {
          'absent/today': ratio('absent', 'today'),
          'noop/absent': ratio('noop', 'absent'),
          'sdk/today-sdk': ratio('sdk', 'today-sdk'),
          'today-sdk/today': ratio('today-sdk', 'today'),
          'sdk/absent': ratio('sdk', 'absent'),
        },
        failures: rounds.reduce((n, p) => n + VARIANTS.reduce((m, v) => m + p[v].bad, 0), 0),
        rounds,
      });
    }
    // The one recording call of an authenticated GET, alone: with the SDK, with the API only, without the package.
    log('measuring the recording call alone');
    const pieces = {};
    for (const [name, dist, sdk] of [['sdk', dists.sdk, true], ['noop', dists.noop, false], ['absent', dists.absent, false]]) {
      const child = fork(join(here, 'otel-pieces.js'), [], { env: { ...process.env, BENCH_OTEL_PIECES: JSON.stringify({ dist, sdk }) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      pieces[name] = await new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m.microsPerCall));
        child.once('exit', (code) => code && reject(new Error(`otel-pieces.js (${name}) exited with code ${code}`)));
      });
    }
    const report = { date: new Date().toISOString(), base, pieces, machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version }, settings: { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, parallel: PARALLEL }, results, wallSeconds: (Date.now() - started) / 1000 };
    const table = markdown(report);
    writeFileSync(join(resultsDir, 'otel.json'), JSON.stringify(report, null, 2));
    writeFileSync(join(resultsDir, 'otel.md'), table);
    console.log(table);
  } finally {
    const children = [idp, ...Object.values(apps)].map((c) => c.child);
    const exited = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.disconnect())));
    await Promise.all(children.map(exited));
    redis.stop();
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(report) {
  const f = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  const pairs = Object.keys(report.results[0]?.ratios ?? {});
  const lines = [
    `Run ${report.date} on ${report.machine.cpus} CPUs, node ${report.machine.node}, load average at the end ${report.machine.loadavg.map((l) => l.toFixed(1)).join(' ')}; ` +
      `${report.settings.rounds} rounds of ${report.settings.seconds} s (${report.settings.parallel ? 'all variants at once' : 'variants in turn, rotating'}), ${report.settings.connections} connections; today = ${report.base.slice(0, 10)}.`,
    '',
    `| store | ${VARIANTS.map((v) => `${v} µs/req`).join(' | ')} | ${pairs.join(' | ')} | OpenTelemetry modules loaded (${VARIANTS.join(', ')}) |`,
    `|${' --- |'.repeat(1 + VARIANTS.length + pairs.length + 1)}`,
  ];
  for (const r of report.results) {
    lines.push(
      `| ${r.store} | ${VARIANTS.map((v) => f(r.cpuMicros[v])).join(' | ')} | ${pairs.map((p) => `${f(r.ratios[p], 3)}x`).join(' | ')} | ${VARIANTS.map((v) => r.otelModules[v]).join(', ')} |`,
    );
  }
  const p = report.pieces;
  lines.push(
    '',
    `The recording an authenticated GET makes (one session store timer), measured alone: ${f(p.sdk, 2)} µs per call with the SDK, ` +
      `${f(p.noop, 3)} µs with the API only, ${f(p.absent, 3)} µs without the package.`,
  );
  lines.push('', `Failed requests: ${report.results.reduce((n, r) => n + r.failures, 0)}. Wall time ${report.wallSeconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
