/**
 * The refresh storm: 200 concurrent requests of one session, spread over two instances of ours on one Redis, just
 * after the access token expired. Counts the refresh grants the IdP saw (must be exactly one: the IdP rotates
 * refresh tokens, so a second grant with the same one would fail and end the session) and compares the storm's
 * p99 latency with one refresh round trip (a lone request that refreshes) and with the same storm on a session
 * that needs no refresh (what 200 requests at once cost two single-threaded instances anyway).
 *
 * The instances use the IdP's storm client, whose access tokens live BENCH_STORM_EXPIRES_IN (2) seconds, with
 * refreshSkew 0. Run alone with `BENCH_SCENARIOS=none node bench/run.js`.
 */
import http from 'node:http';
import { loginOnce } from './driver.js';
import { CLIENT_ID, CLIENT_SECRET, log, median, quantile, startChild } from './harness.js';

const STORM = Number(process.env.BENCH_STORM_REQUESTS ?? 200);
const REPEATS = Number(process.env.BENCH_STORM_REPEATS ?? 3);
const EXPIRES_IN = Number(process.env.BENCH_STORM_EXPIRES_IN ?? 2);

const agent = new http.Agent({ keepAlive: true, maxSockets: STORM });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One authenticated GET of /me/at; resolves its status, latency (ms) and the access token's fingerprint. */
function timedGet(url, cookie) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent, headers: { accept: 'application/json', cookie } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let at;
        try {
          at = JSON.parse(body).at;
        } catch {
          at = undefined;
        }
        resolve({ status: res.statusCode, ms: performance.now() - t0, at });
      });
    });
    req.on('error', (err) => resolve({ status: 0, ms: performance.now() - t0, error: err.message }));
  });
}

async function storm(apps, cookie) {
  const all = await Promise.all(Array.from({ length: STORM }, (_, i) => timedGet(`${apps[i % apps.length].baseURL}/me/at`, cookie)));
  const ok = all.filter((r) => r.status === 200);
  return { ok: ok.length, failed: all.length - ok.length, p50: quantile(all.map((r) => r.ms), 0.5), p99: quantile(all.map((r) => r.ms), 0.99), tokens: new Set(ok.map((r) => r.at)).size };
}

async function grants(idp) {
  return (await idp.ask('stats')).stats.refreshGrants;
}

/** Runs the storm; resolves the figures for the report. */
export async function refreshStorm({ idp, redis }) {
  log(`refresh storm: ${STORM} requests of one session on two instances, ${REPEATS} times`);
  const apps = [];
  for (const name of ['storm-a', 'storm-b']) {
    const opts = { variant: 'ours', store: 'redis', issuer: idp.issuer, redisUrl: redis.url, clientId: `${CLIENT_ID}-storm`, clientSecret: CLIENT_SECRET, refreshSkew: 0 };
    apps.push(await startChild('app.js', { BENCH_APP: JSON.stringify(opts) }, name));
  }
  try {
    // Discovery and JWKS on both instances, then a control storm on a session that needs no refresh (it also
    // opens the keep-alive connections the real storms reuse).
    for (const app of apps) await loginOnce(app.baseURL);
    const fresh = await loginOnce(apps[0].baseURL);
    await storm(apps, fresh); // unmeasured: opens the connections
    // As many control storms as real ones, the median p99: one stall of a shared machine is not the baseline.
    const controls = [];
    for (let i = 0; i < REPEATS; i++) controls.push(await storm(apps, fresh));
    const control = { p99: median(controls.map((c) => c.p99)), failed: controls.reduce((n, c) => n + c.failed, 0) };
    // Sessions for the lone refreshes and the storms, logged in together so that one wait expires them all.
    const lone = [];
    for (let i = 0; i < 5; i++) lone.push(await loginOnce(apps[i % 2].baseURL));
    const storms = [];
    for (let i = 0; i < REPEATS; i++) storms.push(await loginOnce(apps[i % 2].baseURL));
    await sleep((EXPIRES_IN + 1.2) * 1000);
    const loneMs = [];
    let loneGrants = 0;
    for (const [i, cookie] of lone.entries()) {
      const g0 = await grants(idp);
      const r = await timedGet(`${apps[i % 2].baseURL}/me/at`, cookie);
      loneGrants += (await grants(idp)) - g0;
      if (r.status === 200) loneMs.push(r.ms);
    }
    const runs = [];
    for (const cookie of storms) {
      const g0 = await grants(idp);
      const r = await storm(apps, cookie);
      runs.push({ ...r, grants: (await grants(idp)) - g0 });
      log(`  storm: ${r.ok} ok, ${r.failed} failed, ${runs.at(-1).grants} refresh grant(s), ${r.tokens} distinct access token(s), p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
    }
    const refreshMs = median(loneMs);
    log(`  lone refresh: ${refreshMs.toFixed(1)} ms (${loneGrants} grants for ${lone.length}); control storm p99 ${control.p99.toFixed(1)} ms`);
    return {
      requests: STORM,
      instances: apps.length,
      runs,
      grants: runs.map((r) => r.grants),
      p99: median(runs.map((r) => r.p99)),
      refreshMs,
      loneGrants,
      lone: lone.length,
      controlP99: control.p99,
      controlFailed: control.failed,
    };
  } finally {
    for (const app of apps) app.child.disconnect();
  }
}
