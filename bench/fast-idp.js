/**
 * A minimal, fast OpenID Provider for the benchmark, run as its own process so that its work never counts as the
 * app's: discovery and JWKS served from cached strings, /authorize redirecting straight back with a code (no login
 * page), /token redeeming the code (client_secret_basic and PKCE S256 checked) and signing the ID token with one
 * RS256 key generated at start-up (jose). It accepts any redirect_uri: it exists only on loopback, for the bench.
 *
 * Started with `fork()`; it reports `{ port }` over IPC, answers `{ cmd: 'cpu' }` with its process.cpuUsage().
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const CLIENT_ID = process.env.BENCH_CLIENT_ID ?? 'bench-client';
const CLIENT_SECRET = process.env.BENCH_CLIENT_SECRET ?? 'bench-client-secret-0123456789abcdef0123456789abcdef';
/** The refresh storm's client: its access tokens expire after STORM_EXPIRES_IN seconds. */
const STORM_CLIENT_ID = `${CLIENT_ID}-storm`;
const STORM_EXPIRES_IN = Number(process.env.BENCH_STORM_EXPIRES_IN ?? 2);

/** RFC 6749 §2.3.1: client_secret_basic carries the form-urlencoded id and secret (openid-client encodes '-' too). */
function basicAuth(header) {
  if (!header?.startsWith('Basic ')) return undefined;
  const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString().split(':');
  const decode = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
  const client = decode(id);
  return (client === CLIENT_ID || client === STORM_CLIENT_ID) && decode(secret) === CLIENT_SECRET ? client : undefined;
}

/** Claims of a typical workforce user: what most IdPs put in an ID token with `openid profile email`. */
function profile(n) {
  return {
    name: `Bench User ${n}`,
    given_name: 'Bench',
    family_name: `User ${n}`,
    email: `bench.user.${n}@example.com`,
    email_verified: true,
    groups: ['staff', 'engineering'],
  };
}

async function main() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomBytes(8).toString('hex');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  const codes = new Map();
  /** Refresh tokens in use (rotated at every grant: a second grant with the same one fails, as at strict IdPs). */
  const refreshTokens = new Map();
  const stats = { refreshGrants: 0, refreshRejected: 0, codeGrants: 0 };
  let users = 0;
  const idTokenFor = (clientId, sub, n, extra) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...profile(n), ...extra, auth_time: now })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(clientId)
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  const tokenResponse = async (clientId, sub, n, extra) => {
    const refreshToken = randomBytes(32).toString('base64url');
    refreshTokens.set(refreshToken, { clientId, sub, n });
    return JSON.stringify({
      access_token: randomBytes(32).toString('base64url'),
      token_type: 'Bearer',
      expires_in: clientId === STORM_CLIENT_ID ? STORM_EXPIRES_IN : 3600,
      refresh_token: refreshToken,
      scope: 'openid profile email',
      id_token: await idTokenFor(clientId, sub, n, extra),
    });
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') return send(res, 200, discovery);
    if (url.pathname === '/jwks') return send(res, 200, jwks);
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      const code = randomBytes(24).toString('base64url');
      codes.set(code, { nonce: q.get('nonce'), challenge: q.get('code_challenge'), redirectUri: q.get('redirect_uri'), at: Date.now() });
      const back = new URL(q.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      if (q.has('state')) back.searchParams.set('state', q.get('state'));
      back.searchParams.set('iss', issuer);
      res.writeHead(302, { location: back.href, 'content-length': 0 });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = new URLSearchParams(raw);
      const clientId = basicAuth(req.headers.authorization);
      if (!clientId) return send(res, 401, '{"error":"invalid_client"}');
      if (body.get('grant_type') === 'refresh_token') {
        const old = refreshTokens.get(body.get('refresh_token') ?? '');
        refreshTokens.delete(body.get('refresh_token') ?? '');
        if (!old || old.clientId !== clientId) {
          stats.refreshRejected++;
          return send(res, 400, '{"error":"invalid_grant"}');
        }
        stats.refreshGrants++;
        return send(res, 200, await tokenResponse(clientId, old.sub, old.n, {}));
      }
      const grant = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (!grant || grant.redirectUri !== body.get('redirect_uri')) return send(res, 400, '{"error":"invalid_grant"}');
      if (createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url') !== grant.challenge) {
        return send(res, 400, '{"error":"invalid_grant","error_description":"PKCE"}');
      }
      stats.codeGrants++;
      const n = ++users;
      const extra = { sid: randomBytes(12).toString('base64url'), ...(grant.nonce && { nonce: grant.nonce }) };
      return send(res, 200, await tokenResponse(clientId, `bench-user-${n}`, n, extra));
    }
    send(res, 404, '{"error":"not_found"}');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const discovery = JSON.stringify({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  });
  // Codes nobody redeemed (baseline logins never call /token) must not pile up.
  setInterval(() => {
    const old = Date.now() - 60_000;
    for (const [code, grant] of codes) if (grant.at < old) codes.delete(code);
  }, 10_000).unref();

  process.on('message', (msg) => {
    if (msg?.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() });
    if (msg?.cmd === 'stats') process.send?.({ stats });
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port, issuer });
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
