/**
 * `npm run bench`: express-oauth-login against a session-only baseline, everything on loopback.
 *
 * Processes: a redis-server started here, the fast IdP (bench/fast-idp.js), and four apps (bench/app.js):
 * baseline and ours, each with MemoryStore and with Redis. Load comes from this process: autocannon for single-route
 * loads, bench/driver.js for full logins (they hop between app and IdP). Every figure is the median of several
 * interleaved rounds (baseline, ours, baseline, ours, ...), reported as a ratio to the baseline of the same run,
 * with the app's CPU time per operation (process.cpuUsage deltas read from the app process over IPC) and, with
 * Redis, the commands per operation (INFO commandstats deltas).
 *
 * Environment: BENCH_ROUNDS (default 4), BENCH_SECONDS per round (default 3), BENCH_CONNECTIONS (16),
 * BENCH_LOGIN_CONCURRENCY (8), BENCH_PROFILE=1 writes V8 CPU profiles of the apps to bench/results/profiles.
 */
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { get, loginOnce, runLogins } from './driver.js';
import { measurePieces } from './pieces.js';
import { storeKeyOf } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 8);
const PROFILE = process.env.BENCH_PROFILE === '1';
/** Subsets for profiling or a quick look: BENCH_STORES=redis, BENCH_SCENARIOS=login,authed. */
const STORES = (process.env.BENCH_STORES ?? 'memory,redis').split(',');
const ONLY = process.env.BENCH_SCENARIOS?.split(',');
const SESSIONS = 32;
const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef0123456789abcdef';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const log = (...args) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

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
  const dir = mkdtempSync(join(os.tmpdir(), 'eol-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  child.on('error', (err) => {
    console.error(`redis-server could not start (${err.message}): run \`npm run setup\` first.`);
    process.exit(1);
  });
  // Not lazy: ioredis retries the connection until redis-server listens, and queues the PING meanwhile.
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 100 ? null : 50) });
  client.on('error', () => {});
  await client.ping();
  return { url: `redis://127.0.0.1:${port}`, client, stop: () => (client.disconnect(), child.kill(), rmSync(dir, { recursive: true, force: true })) };
}

/** Forks a child that reports `{ port, ... }` first and answers `{ cmd: 'cpu' }`. */
function startChild(script, env, name) {
  const execArgv = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(resultsDir, 'profiles'), '--cpu-prof-name', `${name}.cpuprofile`] : [];
  const child = fork(join(here, script), [], { env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (info) => {
      const cpu = () =>
        new Promise((res) => {
          child.once('message', (m) => res(m.cpu.user + m.cpu.system));
          child.send({ cmd: 'cpu' });
        });
      resolve({ ...info, name, child, cpu });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with code ${code}`)));
  });
}

/** Redis commands per name since the last call (INFO commandstats), without our own INFO. */
async function commandDelta(redis, previous) {
  const info = await redis.info('commandstats');
  const now = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) now[m[1]] = Number(m[2]);
  const delta = {};
  for (const [cmd, calls] of Object.entries(now)) {
    const d = calls - (previous?.[cmd] ?? 0);
    if (d > 0 && cmd !== 'info' && !cmd.startsWith('config')) delta[cmd] = d;
  }
  return { now, delta, total: Object.values(delta).reduce((a, b) => a + b, 0) };
}

async function cannon(app, { path, headers, cookies }) {
  let i = 0;
  const result = await autocannon({
    url: app.baseURL,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'GET',
        path,
        ...(cookies && { setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...headers, cookie: cookies[i++ % cookies.length] } }) }),
        ...(!cookies && { headers }),
      },
    ],
  });
  return { ops: result['2xx'] + result['3xx'], ok2xx: result['2xx'], ok3xx: result['3xx'], bad: result['4xx'] + result['5xx'] + result.errors + result.timeouts, seconds: result.duration };
}

/** Runs one measured round of `scenario` against `app`: throughput, CPU per op, Redis commands per op. */
async function round(app, scenario, redis) {
  const before = await commandDelta(redis);
  const cpu0 = await app.cpu();
  let ops;
  let seconds;
  let bad;
  if (scenario.kind === 'login') {
    const r = await runLogins(app.baseURL, { concurrency: LOGIN_CONCURRENCY, durationMs: SECONDS * 1000 });
    ({ ok: ops, errors: bad } = r);
    seconds = r.ms / 1000;
    if (r.errors) log(`  ${app.name}: ${r.errors} failed logins (${r.firstError})`);
  } else {
    const r = await cannon(app, scenario.request(app));
    ops = scenario.expect === 200 ? r.ok2xx : r.ok3xx;
    bad = r.bad + (scenario.expect === 200 ? r.ok3xx : r.ok2xx);
    seconds = r.seconds;
    if (bad) log(`  ${app.name}: ${bad} unexpected answers in ${scenario.id}`);
  }
  const cpu = (await app.cpu()) - cpu0;
  const cmds = await commandDelta(redis, before.now);
  return { perSecond: ops / seconds, cpuMicros: cpu / Math.max(ops, 1), redisPerOp: cmds.total / Math.max(ops, 1), ops, bad };
}

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}`);
  const redis = await startRedis();
  const idp = await startChild('fast-idp.js', { BENCH_CLIENT_ID: CLIENT_ID, BENCH_CLIENT_SECRET: CLIENT_SECRET }, 'fast-idp');
  const apps = {};
  for (const store of ['memory', 'redis']) {
    for (const variant of ['baseline', 'ours']) {
      const env = { BENCH_APP: JSON.stringify({ variant, store, issuer: idp.issuer, redisUrl: redis.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }) };
      apps[`${variant}-${store}`] = await startChild('app.js', env, `${variant}-${store}`);
    }
  }
  const children = [idp, ...Object.values(apps)];
  try {
    for (const app of Object.values(apps)) log(`${app.name}: ${app.session} on ${app.baseURL}`);

    // Exact Redis traffic of one operation, before any load: one login, one authenticated request, one bounce.
    const trace = {};
    for (const variant of ['baseline', 'ours']) {
      const app = apps[`${variant}-redis`];
      await loginOnce(app.baseURL); // discovery and JWKS warm-up for ours
      await redis.client.config('RESETSTAT');
      const cookie = await loginOnce(app.baseURL);
      const login = await commandDelta(redis.client);
      await redis.client.config('RESETSTAT');
      await get(`${app.baseURL}/me`, { cookie, accept: 'application/json' });
      const authed = await commandDelta(redis.client);
      await redis.client.config('RESETSTAT');
      await get(`${app.baseURL}/me`);
      const bounce = await commandDelta(redis.client);
      const sid = decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
      // Ours stores sealed sessions under storeKeyOf(id), the baseline under the id.
      const [key] = [...(await redis.client.keys(`*${sid}`)), ...(await redis.client.keys(`*${storeKeyOf(sid)}`))];
      const bytes = key ? await redis.client.strlen(key) : NaN;
      const memory = key ? await redis.client.call('MEMORY', 'USAGE', key) : NaN;
      trace[variant] = { login: login.delta, loginTotal: login.total, authed: authed.delta, authedTotal: authed.total, bounce: bounce.total, bytes, memory };
      log(`${variant}: login ${JSON.stringify(login.delta)}, authenticated GET ${JSON.stringify(authed.delta)}, session ${bytes} bytes`);
    }

    // Logged-in sessions for the authenticated GET rounds.
    const cookies = {};
    for (const [name, app] of Object.entries(apps)) {
      cookies[name] = [];
      for (let i = 0; i < SESSIONS; i++) cookies[name].push(await loginOnce(app.baseURL));
    }

    const scenarios = [
      {
        id: 'authed',
        title: 'Authenticated GET (requireAuth vs hand-read session)',
        expect: 200,
        request: (app) => ({ path: '/me', headers: { accept: 'application/json' }, cookies: cookies[app.name] }),
      },
      { id: 'login', title: 'Full login (login → IdP → callback → page)', kind: 'login' },
      { id: 'start', title: 'Login start (GET /login: 302 to the IdP)', expect: 302, request: () => ({ path: '/login?returnTo=%2Fme', headers: { accept: 'text/html' } }) },
      { id: 'bounce', title: 'Unauthenticated bounce (302 to /login)', expect: 302, request: () => ({ path: '/me', headers: { accept: 'text/html' } }) },
    ];

    // Warm-up: one short unmeasured pass of each scenario on each app (JIT, connection pools).
    log('warming up');
    for (const app of Object.values(apps)) {
      await runLogins(app.baseURL, { concurrency: LOGIN_CONCURRENCY, durationMs: 500 });
      await autocannon({ url: `${app.baseURL}/me`, connections: CONNECTIONS, duration: 1, headers: { accept: 'text/html' } });
    }

    const results = [];
    for (const store of STORES) {
      for (const scenario of scenarios.filter((sc) => !ONLY || ONLY.includes(sc.id))) {
        const rounds = [];
        for (let r = 0; r < ROUNDS; r++) {
          const order = ['baseline', 'ours'];
          const pair = {};
          for (const variant of order) pair[variant] = await round(apps[`${variant}-${store}`], scenario, redis.client);
          rounds.push(pair);
          log(
            `${store} ${scenario.id} round ${r + 1}/${ROUNDS}: baseline ${pair.baseline.perSecond.toFixed(0)}/s ${pair.baseline.cpuMicros.toFixed(0)} µs,` +
              ` ours ${pair.ours.perSecond.toFixed(0)}/s ${pair.ours.cpuMicros.toFixed(0)} µs`,
          );
        }
        const pick = (variant, field) => median(rounds.map((p) => p[variant][field]));
        results.push({
          store,
          scenario: scenario.id,
          title: scenario.title,
          baseline: { perSecond: pick('baseline', 'perSecond'), cpuMicros: pick('baseline', 'cpuMicros'), redisPerOp: pick('baseline', 'redisPerOp') },
          ours: { perSecond: pick('ours', 'perSecond'), cpuMicros: pick('ours', 'cpuMicros'), redisPerOp: pick('ours', 'redisPerOp') },
          // Ratios per interleaved pair, then the median: slow drift of the machine cancels out within a pair.
          throughputRatio: median(rounds.map((p) => p.ours.perSecond / p.baseline.perSecond)),
          cpuRatio: median(rounds.map((p) => p.ours.cpuMicros / p.baseline.cpuMicros)),
          failures: rounds.reduce((n, p) => n + p.baseline.bad + p.ours.bad, 0),
          rounds,
        });
      }
    }
    log('measuring the OAuth pieces of a login');
    const pieces = await measurePieces({ issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const idpCpu = await idp.cpu();
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version },
      settings: { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, loginConcurrency: LOGIN_CONCURRENCY, sessions: SESSIONS },
      sessionSetup: Object.fromEntries(Object.values(apps).map((a) => [a.name, a.session])),
      trace,
      results,
      pieces,
      idpCpuSeconds: idpCpu / 1e6,
      wallSeconds: (Date.now() - started) / 1000,
    };
    const table = markdown(report);
    writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2));
    writeFileSync(join(resultsDir, 'latest.md'), table);
    console.log(table);
    log(`done in ${report.wallSeconds.toFixed(0)} s; results in bench/results/latest.{md,json}`);
  } finally {
    for (const c of children) c.child.disconnect();
    redis.stop();
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const x = (n) => `${fmt(n, 2)}x`;

function markdown(report) {
  const row = (r, what, base, ours, ratio, target, met) => `| ${what} | ${r.store} | ${base} | ${ours} | ${ratio} | ${target} | ${met} |`;
  const lines = [
    `Run ${report.date} on ${report.machine.cpus} CPUs (${report.machine.model}), node ${report.machine.node}, load average at the end ` +
      `${report.machine.loadavg.map((l) => l.toFixed(1)).join(' ')}; ${report.settings.rounds} interleaved rounds of ${report.settings.seconds} s, ` +
      `${report.settings.connections} connections (logins: ${report.settings.loginConcurrency} concurrent), medians.`,
    '',
    '| measure | store | baseline | ours | ours / baseline | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ok = (cond) => (cond ? 'yes' : '**no**');
  for (const r of report.results) {
    if (r.scenario === 'authed') {
      lines.push(row(r, 'authenticated GET, req/s', fmt(r.baseline.perSecond), fmt(r.ours.perSecond), x(r.throughputRatio), '>= 1.0x', ok(r.throughputRatio >= 1)));
      lines.push(row(r, 'authenticated GET, app CPU µs/req', fmt(r.baseline.cpuMicros), fmt(r.ours.cpuMicros), x(r.cpuRatio), '<= 1.0x', ok(r.cpuRatio <= 1)));
      if (r.store === 'redis') lines.push(row(r, 'authenticated GET, Redis commands/req', fmt(r.baseline.redisPerOp, 2), fmt(r.ours.redisPerOp, 2), '', '1', ok(r.ours.redisPerOp <= 1.05)));
    } else if (r.scenario === 'login') {
      lines.push(row(r, 'full login, logins/s', fmt(r.baseline.perSecond), fmt(r.ours.perSecond), x(r.throughputRatio), '', ''));
      lines.push(row(r, 'full login, app CPU µs/login', fmt(r.baseline.cpuMicros), fmt(r.ours.cpuMicros), x(r.cpuRatio), '<= 1.4x', ok(r.cpuRatio <= 1.4)));
      if (r.store === 'redis') lines.push(row(r, 'full login, Redis commands/login', fmt(r.baseline.redisPerOp, 2), fmt(r.ours.redisPerOp, 2), '', '<= 4', ok(r.ours.redisPerOp <= 4.05)));
    } else if (r.scenario === 'start') {
      lines.push(row(r, 'login start (302 to IdP), req/s', fmt(r.baseline.perSecond), fmt(r.ours.perSecond), x(r.throughputRatio), '', ''));
      lines.push(row(r, 'login start, app CPU µs/req', fmt(r.baseline.cpuMicros), fmt(r.ours.cpuMicros), x(r.cpuRatio), '', ''));
    } else {
      lines.push(row(r, 'unauthenticated 302, req/s', fmt(r.baseline.perSecond), fmt(r.ours.perSecond), x(r.throughputRatio), '', ''));
      lines.push(row(r, 'unauthenticated 302, app CPU µs/req', fmt(r.baseline.cpuMicros), fmt(r.ours.cpuMicros), x(r.cpuRatio), '', ''));
    }
  }
  const t = report.trace;
  lines.push(`| session size in Redis, bytes (MEMORY USAGE) | redis | ${t.baseline.bytes} (${t.baseline.memory}) | ${t.ours.bytes} (${t.ours.memory}) | | < 3072 (sealed) | ${ok(t.ours.bytes < 3072)} |`);
  lines.push('');
  const cmds = (d) => Object.entries(d).map(([k, v]) => `${k.toUpperCase()}×${v}`).join(' ');
  lines.push(`Redis commands of a single operation (no load): login → IdP → callback → first page: baseline ${t.baseline.loginTotal} (${cmds(t.baseline.login)}), ours ${t.ours.loginTotal} (${cmds(t.ours.login)}); ` +
    `authenticated GET: baseline ${t.baseline.authedTotal} (${cmds(t.baseline.authed)}), ours ${t.ours.authedTotal} (${cmds(t.ours.authed)}); unauthenticated bounce: baseline ${t.baseline.bounce}, ours ${t.ours.bounce}.`);
  lines.push('');
  const p = report.pieces;
  lines.push(
    `What the OAuth work of a login costs on the client side, measured alone (median CPU µs): token request ${fmt(p.tokenRequestIdpFetch)} ` +
      `(with the global fetch: ${fmt(p.tokenRequestGlobalFetch)}), ID token signature check ${fmt(p.idTokenVerify)}, PKCE S256 challenge ${fmt(p.pkceChallenge)}, ` +
      `state + nonce + verifier ${fmt(p.randomValues)}; together ${fmt(p.tokenRequestIdpFetch + p.idTokenVerify + p.pkceChallenge + p.randomValues)} µs.`,
  );
  lines.push('');
  lines.push(`Sessions: ${Object.entries(report.sessionSetup).map(([k, v]) => `${k}: ${v}`).join('; ')}. ` +
    `The fast IdP used ${report.idpCpuSeconds.toFixed(1)} s of CPU in the whole run. Failed operations: ${report.results.reduce((n, r) => n + r.failures, 0)}. Wall time ${report.wallSeconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
