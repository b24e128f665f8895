/**
 * `npm run bench`: express-oauth-login against a session-only baseline and the peers users would pick instead,
 * everything on loopback, one table.
 *
 * Processes: a redis-server started here, the fast IdP (bench/fast-idp.js), and one app per contestant and store
 * (bench/app.js): baseline, ours, openid-client, passport, eoc (bench/peers.js). Load comes from this process:
 * autocannon for single-route loads, bench/driver.js for full logins (they hop between app and IdP). Every figure is
 * the median of several interleaved rounds (each round measures every contestant back to back, in a rotating
 * order), reported as the median of the per-round ratios to the baseline of the same round, with the app's CPU time
 * per operation (process.cpuUsage deltas read from the app process over IPC) and, with Redis, the commands per
 * operation (INFO commandstats deltas). Then the refresh storm (bench/storm.js) and the OAuth pieces alone.
 *
 * Environment: BENCH_ROUNDS (default 4), BENCH_SECONDS per round (3), BENCH_CONNECTIONS (16),
 * BENCH_LOGIN_CONCURRENCY (8), BENCH_STORES (redis; memory,redis for both), BENCH_SCENARIOS
 * (authed,login,start,bounce), BENCH_CONTESTANTS (baseline,ours,openid-client,passport,eoc), BENCH_STORM=0 skips
 * the storm, BENCH_PROFILE=1 writes V8 CPU profiles of the apps to bench/results/profiles.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { get, loginOnce, runLogins } from './driver.js';
import { CLIENT_ID, CLIENT_SECRET, commandDelta, log, median, resultsDir, sentCommands, startChild, startRedis } from './harness.js';
import { measurePieces } from './pieces.js';
import { markdown } from './report.js';
import { refreshStorm } from './storm.js';
import { storeKeyOf } from '../dist/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 8);
const STORES = (process.env.BENCH_STORES ?? 'redis').split(',');
const ONLY = process.env.BENCH_SCENARIOS?.split(',');
const CONTESTANTS = (process.env.BENCH_CONTESTANTS ?? 'baseline,ours,openid-client,passport,eoc').split(',');
if (!CONTESTANTS.includes('baseline')) CONTESTANTS.unshift('baseline');
const SESSIONS = 32;

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
  return { ok2xx: result['2xx'], ok3xx: result['3xx'], bad: result['4xx'] + result['5xx'] + result.errors + result.timeouts, seconds: result.duration };
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

/** Exact Redis traffic of one operation, before any load: one login, one authenticated request, one bounce. */
async function traceOne(app, redis) {
  await loginOnce(app.baseURL); // discovery and JWKS warm-up
  let cookie;
  const login = await sentCommands(redis, async () => {
    cookie = await loginOnce(app.baseURL);
  });
  const authed = await sentCommands(redis, () => get(`${app.baseURL}/me`, { cookie, accept: 'application/json' }));
  const bounce = await sentCommands(redis, () => get(`${app.baseURL}/me`));
  const sessionCookie = cookie.split('; ').find((c) => c.startsWith('app.sid=') || c.startsWith('connect.sid='));
  const sid = sessionCookie && decodeURIComponent(sessionCookie.split('=')[1]).slice(2).split('.')[0];
  // Ours stores sealed sessions under storeKeyOf(id), the others under the id.
  const [key] = sid ? [...(await redis.keys(`*${sid}`)), ...(await redis.keys(`*${storeKeyOf(sid)}`))] : [];
  const bytes = key ? await redis.strlen(key) : cookie.length;
  const memory = key ? await redis.call('MEMORY', 'USAGE', key) : undefined;
  return { login: login.delta, loginTotal: login.total, authed: authed.delta, authedTotal: authed.total, bounce: bounce.total, bytes, memory, inCookie: !key };
}

const scenarios = (cookies) => [
  { id: 'authed', title: 'authenticated GET', expect: 200, request: (app) => ({ path: '/me', headers: { accept: 'application/json' }, cookies: cookies[app.name] }) },
  { id: 'login', title: 'full login (login → IdP → callback → page)', kind: 'login' },
  { id: 'start', title: 'login start (GET /login: 302 to the IdP)', expect: 302, request: () => ({ path: '/login?returnTo=%2Fme', headers: { accept: 'text/html' } }) },
  { id: 'bounce', title: 'unauthenticated bounce (GET /me: 302)', expect: 302, request: () => ({ path: '/me', headers: { accept: 'text/html' } }) },
];

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}`);
  const redis = await startRedis();
  const idp = await startChild('fast-idp.js', { BENCH_CLIENT_ID: CLIENT_ID, BENCH_CLIENT_SECRET: CLIENT_SECRET }, 'fast-idp');
  const apps = {};
  for (const store of STORES) {
    for (const variant of CONTESTANTS) {
      const env = { BENCH_APP: JSON.stringify({ variant, store, issuer: idp.issuer, redisUrl: redis.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }) };
      apps[`${variant}-${store}`] = await startChild('app.js', env, `${variant}-${store}`);
    }
  }
  const children = [idp, ...Object.values(apps)];
  try {
    for (const app of Object.values(apps)) log(`${app.name}: ${app.session} on ${app.baseURL}`);
    const trace = {};
    for (const variant of CONTESTANTS) {
      const app = apps[`${variant}-${STORES.includes('redis') ? 'redis' : STORES[0]}`];
      trace[variant] = await traceOne(app, redis.client);
      log(`${variant}: login ${JSON.stringify(trace[variant].login)}, authenticated GET ${JSON.stringify(trace[variant].authed)}, session ${trace[variant].bytes} bytes`);
    }
    const cookies = {};
    for (const [name, app] of Object.entries(apps)) {
      cookies[name] = [];
      for (let i = 0; i < SESSIONS; i++) cookies[name].push(await loginOnce(app.baseURL));
    }
    log('warming up');
    for (const app of Object.values(apps)) {
      await runLogins(app.baseURL, { concurrency: LOGIN_CONCURRENCY, durationMs: 500 });
      await autocannon({ url: `${app.baseURL}/me`, connections: CONNECTIONS, duration: 1, headers: { accept: 'text/html' } });
    }

    const results = [];
    for (const store of STORES) {
      for (const scenario of scenarios(cookies).filter((sc) => !ONLY || ONLY.includes(sc.id))) {
        const rounds = [];
        for (let r = 0; r < ROUNDS; r++) {
          // A rotating order, so no contestant always runs right after the same neighbour.
          const order = CONTESTANTS.map((_, i) => CONTESTANTS[(i + r) % CONTESTANTS.length]);
          const byVariant = {};
          for (const variant of order) byVariant[variant] = await round(apps[`${variant}-${store}`], scenario, redis.client);
          rounds.push(byVariant);
          log(`${store} ${scenario.id} round ${r + 1}/${ROUNDS}: ${CONTESTANTS.map((v) => `${v} ${byVariant[v].perSecond.toFixed(0)}/s ${byVariant[v].cpuMicros.toFixed(0)} µs`).join(', ')}`);
        }
        const contestants = {};
        for (const v of CONTESTANTS) {
          const pick = (field) => median(rounds.map((p) => p[v][field]));
          contestants[v] = {
            perSecond: pick('perSecond'),
            cpuMicros: pick('cpuMicros'),
            redisPerOp: pick('redisPerOp'),
            // Ratios within a round, then the median: slow drift of the machine cancels out within a round.
            throughputRatio: median(rounds.map((p) => p[v].perSecond / p.baseline.perSecond)),
            cpuRatio: median(rounds.map((p) => p[v].cpuMicros / p.baseline.cpuMicros)),
            // The spread of the per-round ratios: on a shared machine it says how far one run can be trusted.
            cpuRatioRange: [Math.min(...rounds.map((p) => p[v].cpuMicros / p.baseline.cpuMicros)), Math.max(...rounds.map((p) => p[v].cpuMicros / p.baseline.cpuMicros))],
            // Ours against this contestant, per round: "below every peer" is judged on these.
            oursCpuRatio: median(rounds.map((p) => (p.ours ? p.ours.cpuMicros / p[v].cpuMicros : NaN))),
          };
        }
        results.push({ store, scenario: scenario.id, title: scenario.title, contestants, failures: rounds.reduce((n, p) => n + Object.values(p).reduce((m, x) => m + x.bad, 0), 0), rounds });
      }
    }
    const storm = process.env.BENCH_STORM === '0' ? undefined : await refreshStorm({ idp, redis });
    log('measuring the OAuth pieces of a login');
    const pieces = await measurePieces({ issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const idpCpu = await idp.cpu();
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version },
      settings: { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, loginConcurrency: LOGIN_CONCURRENCY, sessions: SESSIONS, stores: STORES, contestants: CONTESTANTS },
      sessionSetup: Object.fromEntries(Object.values(apps).map((a) => [a.name, a.session])),
      trace,
      results,
      storm,
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

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
