/**
 * Turns a bench run (run.js) into markdown ready to paste into bench/README.md: one table of every contestant's
 * ratios to the baseline (absolute figures in brackets), the issue's targets each with "met" or "not met
 * (measured ...; reason)", the single-operation Redis trace, the refresh storm and the OAuth pieces.
 */
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const x = (n) => `${fmt(n, 2)}x`;
/** "1.12x (rounds 0.95x-1.30x)": the median of the per-round ratios and their spread. */
const spread = (c) => (c?.cpuRatioRange ? `${x(c.cpuRatio)} (rounds ${fmt(c.cpuRatioRange[0], 2)}x-${fmt(c.cpuRatioRange[1], 2)}x)` : x(c?.cpuRatio));
const cmds = (d) => Object.entries(d).map(([k, v]) => `${k.toUpperCase()}×${v}`).join(' ');

export const NAMES = {
  baseline: 'baseline: express-session + connect-redis, session-only login routes',
  ours: 'express-oauth-login (`oauthSession()`, `oauthLogin()`, `requireAuth()`)',
  'openid-client': 'openid-client 6 + express-session, straightforward',
  passport: 'passport 0.7 + openid-client/passport',
  eoc: 'express-openid-connect 3.4 (encrypted cookie)',
};

function contestantTable(report, store) {
  const by = Object.fromEntries(report.results.filter((r) => r.store === store).map((r) => [r.scenario, r.contestants]));
  const cell = (scenario, v, field) => {
    const c = by[scenario]?.[v];
    if (!c) return '';
    if (field === 'perSecond') return `${x(c.throughputRatio)} (${fmt(c.perSecond)}/s)`;
    return `${x(c.cpuRatio)} (${fmt(c.cpuMicros)} µs)`;
  };
  const lines = [
    `| ${store === 'redis' ? 'Redis store' : 'MemoryStore'} | authenticated GET req/s | authenticated GET app CPU/req | full login app CPU | logins/s | login start app CPU | unauthenticated bounce app CPU | Redis commands per login |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const v of report.settings.contestants) {
    const t = report.trace[v];
    const redisCell = store !== 'redis' || !t ? '' : t.inCookie ? '0 (session in a cookie)' : `${t.loginTotal} (${cmds(t.login)})`;
    lines.push(
      `| ${NAMES[v] ?? v} | ${cell('authed', v, 'perSecond')} | ${cell('authed', v, 'cpu')} | ${cell('login', v, 'cpu')} | ${cell('login', v, 'perSecond')} | ${cell('start', v, 'cpu')} | ${cell('bounce', v, 'cpu')} | ${redisCell} |`,
    );
  }
  return lines;
}

function targets(report) {
  const store = report.settings.stores.includes('redis') ? 'redis' : report.settings.stores[0];
  const get = (scenario) => report.results.find((r) => r.store === store && r.scenario === scenario)?.contestants;
  const rows = [];
  const judge = (name, measured, ok, reason) => rows.push(`| ${name} | ${measured === undefined ? 'not measured in this run' : ok ? `met (measured ${measured})` : `**not met** (measured ${measured}; ${reason})`} |`);
  const p = report.pieces;
  const oauthParts = p && p.tokenRequestIdpFetch + p.idTokenVerify + p.pkceChallenge + p.randomValues;
  const login = get('login');
  if (login) {
    const b = login.baseline.cpuMicros;
    judge(`full login app CPU <= 1.4x the baseline (${store})`, login.ours && spread(login.ours), login.ours?.cpuRatio <= 1.4,
      `medians ${fmt(login.ours?.cpuMicros)} vs ${fmt(b)} µs; the OAuth work measured alone (token request ${fmt(p?.tokenRequestIdpFetch)}, ID token signature ${fmt(p?.idTokenVerify)}, PKCE ${fmt(p?.pkceChallenge)}, random values ${fmt(p?.randomValues)} µs) is ${fmt(oauthParts)} µs, ${x(1 + oauthParts / b)} of the baseline's login by itself`);
    const peers = report.settings.contestants.filter((v) => !['baseline', 'ours'].includes(v) && login[v]);
    const worst = peers.filter((v) => !(login[v].oursCpuRatio < 1));
    judge('full login app CPU below every peer', peers.map((v) => `ours / ${v} ${x(login[v].oursCpuRatio)}`).join(', '), peers.length > 0 && worst.length === 0,
      `not below ${worst.join(', ')}${worst.length ? ' (the peers do not verify the ID token signature; ours does)' : ''}`);
  }
  const why = {
    start: '; what ours does beyond the baseline: the oauthLogin router\'s route matching, the PKCE challenge and an authorization URL built by openid-client',
    bounce: '; what ours does beyond the baseline: the oauthLogin router\'s route matching and requireAuth\'s Accept negotiation (redirect for browsers, 401 JSON for APIs); neither touches the store',
  };
  for (const [scenario, what] of [['start', 'login start (302 to the IdP)'], ['bounce', 'unauthenticated bounce (302 to /login)']]) {
    const c = get(scenario);
    if (!c) continue;
    judge(`${what} app CPU <= 1.0x the baseline`, c.ours && spread(c.ours), c.ours?.cpuRatio <= 1.0,
      `medians ${fmt(c.ours?.cpuMicros)} vs ${fmt(c.baseline.cpuMicros)} µs per request${why[scenario]}`);
  }
  const authed = get('authed');
  if (authed) {
    judge('authenticated GET app CPU <= 0.9x the baseline', authed.ours && spread(authed.ours), authed.ours?.cpuRatio <= 0.9,
      `medians ${fmt(authed.ours?.cpuMicros)} vs ${fmt(authed.baseline.cpuMicros)} µs; ours sends ${fmt(authed.ours?.redisPerOp, 2)} Redis commands per request, the baseline ${fmt(authed.baseline.redisPerOp, 2)}`);
  }
  const t = report.trace.ours;
  if (t && store === 'redis') {
    judge('<= 4 Redis commands per login including the first page, single-use state kept', `${t.loginTotal} (${cmds(t.login)})`, t.loginTotal <= 4,
      'issue 11 makes the login claim its pending login in the store (one EVAL) before the code is redeemed, so two deliveries of one callback can never both redeem it, on any instance; the session commands are /login: EVAL (write), callback: GET, EVAL (claim), EVAL (tombstone of the pre-login session), EVAL (the new session), first page: GET (plus one MULTI for the sid/sub index when backchannelLogout is on); the baseline and the openid-client app send 7');
  }
  const s = report.storm;
  if (s) {
    const exact = s.grants.every((g) => g === 1);
    judge(`refresh storm: exactly one refresh grant at the IdP (${s.requests} requests, ${s.instances} instances, ${s.runs.length} storms)`,
      `${s.grants.join(', ')} grant(s); ${s.runs.map((r) => `${r.ok}/${s.requests} answered 200 with ${r.tokens} access token(s)`).join('; ')}`, exact && s.runs.every((r) => r.failed === 0 && r.tokens === 1),
      'more than one grant, or failed requests');
    const ratio = s.p99 / s.refreshMs;
    judge('refresh storm p99 within 2x one refresh round trip', `p99 ${fmt(s.p99, 1)} ms vs ${fmt(s.refreshMs, 1)} ms for a lone request that refreshes, ${x(ratio)}`, ratio <= 2,
      `the same ${s.requests} requests on a session that needs no refresh already take p99 ${fmt(s.controlP99, 1)} ms (${x(s.controlP99 / s.refreshMs)}): ` +
        `${s.requests / s.instances} requests queue on each single-threaded instance; ${s.p99 > s.controlP99 ? `the refresh adds ${fmt(s.p99 - s.controlP99, 1)} ms to that p99 (${x((s.p99 - s.controlP99) / s.refreshMs)} one refresh round trip)` : 'the storms with a refresh were no slower than those without, so the refresh adds nothing this run can measure'}`);
  }
  return ['| target | result |', '| --- | --- |', ...rows];
}

/** The whole markdown of a run. */
export function markdown(report) {
  const m = report.machine;
  const lines = [
    `Run ${report.date} on ${m.cpus} CPUs (${m.model}), node ${m.node}, load average at the end ${m.loadavg.map((l) => l.toFixed(1)).join(' ')}; ` +
      `${report.settings.rounds} interleaved rounds of ${report.settings.seconds} s, ${report.settings.connections} connections (logins: ${report.settings.loginConcurrency} concurrent). ` +
      'Each cell: the median of the per-round ratios to the baseline (lower CPU is better, higher req/s is better), the median absolute figure in brackets.',
    '',
  ];
  for (const store of report.settings.stores) lines.push(...contestantTable(report, store), '');
  lines.push(...targets(report), '');
  const t = report.trace;
  lines.push(
    'Redis commands of a single operation (no load): ' +
      Object.entries(t).map(([v, tr]) => `${v}: login ${tr.loginTotal}${tr.loginTotal ? ` (${cmds(tr.login)})` : ''}, authenticated GET ${tr.authedTotal}${tr.authedTotal ? ` (${cmds(tr.authed)})` : ''}, bounce ${tr.bounce}, session ${tr.bytes} bytes${tr.inCookie ? ' of cookies' : ''}`).join('; ') + '.',
    '',
  );
  const p = report.pieces;
  if (p) {
    lines.push(
      `The OAuth work of a login on the client side, each piece measured alone (median CPU µs): token request ${fmt(p.tokenRequestIdpFetch)} (with the global fetch: ${fmt(p.tokenRequestGlobalFetch)}), ` +
        `ID token signature ${fmt(p.idTokenVerify)} (jose through the remote JWKS set: ${fmt(p.idTokenVerifyRemoteSet)}), PKCE S256 ${fmt(p.pkceChallenge)} (openid-client's WebCrypto helper: ${fmt(p.pkceChallengeWebCrypto)}), ` +
        `state + nonce + verifier ${fmt(p.randomValues)} (openid-client's helpers: ${fmt(p.randomValuesClient)}).`,
      '',
    );
  }
  const failures = report.results.reduce((n, r) => n + r.failures, 0);
  lines.push(
    `Sessions: ${Object.entries(report.sessionSetup).map(([k, v]) => `${k}: ${v}`).join('; ')}. The fast IdP used ${report.idpCpuSeconds.toFixed(1)} s of CPU in the whole run. ` +
      `Failed operations: ${failures}. Wall time ${report.wallSeconds.toFixed(0)} s.`,
  );
  return `${lines.join('\n')}\n`;
}
