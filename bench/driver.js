/**
 * A small keep-alive HTTP client for the benchmark's login flow, which hops between two hosts (app and IdP) and
 * carries a session cookie: autocannon drives one host at a time, so full logins are driven from here.
 */
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** GET `url` with optional cookie; resolves status, Location, the first Set-Cookie pair, all of them and the body. */
export function get(url, { cookie, accept = 'text/html' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { accept, ...(cookie && { cookie }) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        const set = res.headers['set-cookie']?.[0];
        resolve({ status: res.statusCode, location: res.headers.location, cookie: set?.split(';')[0], setCookies: res.headers['set-cookie'] ?? [], body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function expectStatus(step, res, status) {
  if (res.status !== status) throw new Error(`${step}: expected ${status}, got ${res.status} ${(/<p>([^<]*)<\/p>/.exec(res.body)?.[1] ?? res.body).slice(0, 300)}`);
}

/**
 * A cookie jar for one host: Set-Cookie pairs by name, a cleared cookie (empty, Max-Age=0 or expired) removed.
 * express-openid-connect keeps its pending login in a cookie of its own and may chunk its session cookie.
 */
function absorb(jar, setCookies) {
  for (const line of setCookies) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const cleared = !value || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a));
    if (cleared) jar.delete(name);
    else jar.set(name, value);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ') || undefined;
}

/**
 * One full login: GET /login → IdP /authorize → GET /callback → GET /me. Resolves the logged-in session cookie.
 * @param {string} base the app's base URL
 */
export async function loginOnce(base) {
  const jar = new Map();
  const login = await get(`${base}/login?returnTo=%2Fme`);
  expectStatus('/login', login, 302);
  const authorize = await get(login.location);
  expectStatus('/authorize', authorize, 302);
  const callback = await get(authorize.location, { cookie: absorb(jar, login.setCookies) });
  expectStatus('/callback', callback, 302);
  if (!callback.setCookies.length) throw new Error('/callback set no session cookie');
  const cookie = absorb(jar, callback.setCookies);
  const me = await get(new URL(callback.location, base).href, { cookie, accept: 'application/json' });
  expectStatus('/me', me, 200);
  if (!JSON.parse(me.body).sub) throw new Error('/me has no user');
  return cookie;
}

/** Runs full logins from `concurrency` workers for `durationMs`; resolves { ok, errors, ms, firstError }. */
export async function runLogins(base, { concurrency, durationMs }) {
  const started = performance.now();
  const deadline = started + durationMs;
  let ok = 0;
  let errors = 0;
  let firstError;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await loginOnce(base);
          ok++;
        } catch (err) {
          errors++;
          firstError ??= err;
        }
      }
    }),
  );
  return { ok, errors, ms: performance.now() - started, firstError: firstError?.message };
}
