// @ts-check
/**
 * A GitHub stand-in on loopback, for the example app (`IDP=github npm start`) and the tests: the OAuth web
 * application flow as GitHub documents it for OAuth apps and GitHub Apps, laid out like GitHub Enterprise Server
 * (web at `/login/oauth/...`, REST API at `/api/v3`), so `providers.github({ enterpriseUrl })` points at it.
 * It is not GitHub: only the documented shapes of the calls a login makes.
 *
 * What it follows (docs.github.com, "Authorizing OAuth apps", "Generating a user access token for a GitHub App",
 * "Troubleshooting OAuth app access token request errors", REST "Users" and "Emails"):
 * - GET /login/oauth/authorize: client_id, redirect_uri (must be registered), scope, state, code_challenge with
 *   code_challenge_method S256; a consent page, then `?code&state` (10-minute, single-use code) or
 *   `?error=access_denied&error_description&error_uri&state`.
 * - POST /login/oauth/access_token: client_id and client_secret in the form, code, redirect_uri, code_verifier; or
 *   grant_type=refresh_token. The answer is form-encoded unless `Accept: application/json`; errors
 *   (bad_verification_code, incorrect_client_credentials, redirect_uri_mismatch, bad_refresh_token) come with
 *   status 200. Scopes come back comma-separated, token_type `bearer`; with `expiringTokens` (GitHub Apps) an
 *   `expires_in` of 8 hours and a rotating refresh token.
 * - GET /api/v3/user and /api/v3/user/emails with `Authorization: Bearer|token`: 403 without a User-Agent, 401
 *   `{"message":"Bad credentials"}` for an unknown token, 404 on /user/emails without the user:email scope.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

/** Demo GitHub accounts: login -> numeric id, profile and e-mail addresses. */
export const GITHUB_USERS = {
  octocat: {
    id: 583231,
    name: 'The Octocat',
    emails: [
      { email: 'octocat@github.example', primary: true, verified: true, visibility: 'public' },
      { email: 'octocat@old.example', primary: false, verified: false, visibility: null },
    ],
  },
  hubot: {
    id: 7218,
    name: 'Hubot',
    // A primary address never verified: a client must not treat it as the user's e-mail.
    emails: [{ email: 'hubot@unverified.example', primary: true, verified: false, visibility: 'private' }],
  },
};

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const esc = (/** @type {unknown} */ s) =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * @typedef {object} GithubStandInOptions
 * @property {number} [port] 0 picks a free one
 * @property {string} [host] default 127.0.0.1
 * @property {string} clientId
 * @property {string} clientSecret
 * @property {string[]} redirectUris the registered callback URLs
 * @property {boolean} [expiringTokens] GitHub App user tokens: expires_in and a rotating refresh_token
 *
 * @typedef {object} GithubMisbehaviour for tests: each lasts until reset()
 * @property {string} [tokenError] answer token requests with this documented error code (status 200)
 * @property {'status500' | 'hang' | 'garbage' | 'no-id'} [user] how GET /user fails
 *
 * @typedef {object} GithubStandIn
 * @property {string} url its origin, the `enterpriseUrl` of providers.github()
 * @property {Array<{ path: string, params: URLSearchParams, headers: http.IncomingHttpHeaders }>} requests
 *   token and authorize requests as received (tests check PKCE and client authentication)
 * @property {(m: GithubMisbehaviour) => void} set
 * @property {() => void} reset
 * @property {() => Promise<void>} close
 */

/**
 * Starts the stand-in.
 * @param {GithubStandInOptions} options
 * @returns {Promise<GithubStandIn>}
 */
export async function startGithubStandIn(options) {
  /** @type {Map<string, { login: string, scope: string, redirectUri: string, challenge: string | null, at: number }>} */
  const codes = new Map();
  /** @type {Map<string, { login: string, scope: string }>} */
  const tokens = new Map();
  /** @type {Map<string, { login: string, scope: string }>} */
  const refreshTokens = new Map();
  /** @type {GithubStandIn['requests']} */
  const requests = [];
  /** @type {GithubMisbehaviour} */
  let m = {};

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        handle(req, res, body);
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  });
  await new Promise((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  /** @param {http.ServerResponse} res @param {number} status @param {unknown} payload */
  const json = (res, status, payload) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(payload));
  };

  /** The token endpoint's answer in the format the Accept header asks for (form-encoded by default). */
  const tokenAnswer = (/** @type {http.IncomingMessage} */ req, /** @type {http.ServerResponse} */ res, /** @type {Record<string, string | number>} */ fields) => {
    if (/application\/json/.test(req.headers.accept ?? '')) return json(res, 200, fields);
    res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
    res.end(new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString());
  };
  const tokenError = (/** @type {http.IncomingMessage} */ req, /** @type {http.ServerResponse} */ res, /** @type {string} */ error, /** @type {string} */ description) =>
    tokenAnswer(req, res, { error, error_description: description, error_uri: `${DOCS}#${error.replace(/_/g, '-')}` });

  /** @param {string} login @param {string} scope */
  const issue = (login, scope) => {
    const accessToken = `gho_${randomBytes(18).toString('base64url')}`;
    tokens.set(accessToken, { login, scope });
    /** @type {Record<string, string | number>} */
    const fields = { access_token: accessToken, scope: scope.split(/[\s,]+/).filter(Boolean).join(','), token_type: 'bearer' };
    if (options.expiringTokens) {
      const refreshToken = `ghr_${randomBytes(30).toString('base64url')}`;
      refreshTokens.set(refreshToken, { login, scope });
      Object.assign(fields, { expires_in: 28800, refresh_token: refreshToken, refresh_token_expires_in: 15897600 });
    }
    return fields;
  };

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} body */
  function handle(req, res, body) {
    const u = new URL(req.url ?? '/', url);
    if (u.pathname === '/login/oauth/authorize' && req.method === 'GET') return authorizePage(u, res);
    if (u.pathname === '/login/oauth/authorize' && req.method === 'POST') return decide(new URLSearchParams(body), res);
    if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const params = new URLSearchParams(body);
      requests.push({ path: u.pathname, params, headers: req.headers });
      return token(req, res, params);
    }
    if (u.pathname === '/api/v3/user' || u.pathname === '/api/v3/user/emails') return api(req, res, u.pathname);
    json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  }

  /** The consent page: which demo account, then Authorize or Cancel. @param {URL} u @param {http.ServerResponse} res */
  function authorizePage(u, res) {
    requests.push({ path: u.pathname, params: u.searchParams, headers: {} });
    const redirectUri = u.searchParams.get('redirect_uri') ?? options.redirectUris[0];
    if (u.searchParams.get('client_id') !== options.clientId || !redirectUri || !options.redirectUris.includes(redirectUri)) {
      res.writeHead(400, { 'content-type': 'text/html' });
      return res.end('<h1>The redirect_uri is not associated with this application.</h1>');
    }
    const hidden = ['redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']
      .map((name) => `<input type="hidden" name="${name}" value="${esc(name === 'redirect_uri' ? redirectUri : (u.searchParams.get(name) ?? ''))}">`)
      .join('');
    const users = Object.keys(GITHUB_USERS).map((login) => `<option>${esc(login)}</option>`).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><title>Authorize application</title><h1>Authorize the example app (GitHub stand-in)</h1>` +
        `<form method="post" action="/login/oauth/authorize">${hidden}<label>Signed in as <select name="login">${users}</select></label>` +
        `<p>Scopes: ${esc(u.searchParams.get('scope') ?? '(none)')}</p><button name="decision" value="allow">Authorize</button> ` +
        `<button name="decision" value="deny">Cancel</button></form>`,
    );
  }

  /** @param {URLSearchParams} form @param {http.ServerResponse} res */
  function decide(form, res) {
    const back = new URL(form.get('redirect_uri') ?? '');
    const state = form.get('state');
    if (form.get('decision') !== 'allow') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set('error_uri', 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied');
    } else {
      const login = form.get('login') ?? '';
      if (!Object.hasOwn(GITHUB_USERS, login)) return json(res, 400, { message: 'unknown user' });
      if (form.get('code_challenge') && form.get('code_challenge_method') !== 'S256') return json(res, 400, { message: 'code_challenge_method must be S256' });
      const code = randomBytes(10).toString('hex');
      codes.set(code, { login, scope: form.get('scope') ?? '', redirectUri: back.href, challenge: form.get('code_challenge') || null, at: Date.now() });
      back.searchParams.set('code', code);
    }
    if (state) back.searchParams.set('state', state);
    res.writeHead(302, { location: back.href }).end();
  }

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {URLSearchParams} params */
  function token(req, res, params) {
    if (m.tokenError) return tokenError(req, res, m.tokenError, 'The stand-in was told to refuse this request.');
    if (params.get('client_id') !== options.clientId || params.get('client_secret') !== options.clientSecret) {
      return tokenError(req, res, 'incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    }
    if (params.get('grant_type') === 'refresh_token') {
      const grant = refreshTokens.get(params.get('refresh_token') ?? '');
      if (!grant) return tokenError(req, res, 'bad_refresh_token', 'The refresh token passed is incorrect or expired.');
      refreshTokens.delete(params.get('refresh_token') ?? '');
      return tokenAnswer(req, res, issue(grant.login, grant.scope));
    }
    const code = params.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code);
    const verifier = params.get('code_verifier') ?? '';
    const pkceOk = !grant?.challenge || createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
    if (!grant || Date.now() - grant.at > 600_000 || !pkceOk) return tokenError(req, res, 'bad_verification_code', 'The code passed is incorrect or expired.');
    if (params.get('redirect_uri') && params.get('redirect_uri') !== grant.redirectUri.replace(/\?.*$/, '')) {
      return tokenError(req, res, 'redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    tokenAnswer(req, res, issue(grant.login, grant.scope));
  }

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} path */
  function api(req, res, path) {
    if (!req.headers['user-agent']) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return res.end('Request forbidden by administrative rules. Please make sure your request has a User-Agent header.');
    }
    const auth = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '');
    const grant = auth && tokens.get(auth[1] ?? '');
    if (!grant) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    const user = GITHUB_USERS[/** @type {keyof typeof GITHUB_USERS} */ (grant.login)];
    if (path === '/api/v3/user/emails') {
      if (!grant.scope.split(/[\s,]+/).includes('user:email')) return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails' });
      return json(res, 200, user.emails);
    }
    if (m.user === 'hang') return; // never answers: the client's timeout must end the login
    if (m.user === 'status500') return json(res, 500, { message: 'Server Error' });
    if (m.user === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('<html>not json</html>');
    }
    const publicEmail = user.emails.find((e) => e.visibility === 'public')?.email ?? null;
    json(res, 200, {
      login: grant.login,
      ...(m.user !== 'no-id' && { id: user.id }),
      node_id: Buffer.from(`04:User${user.id}`).toString('base64'),
      avatar_url: `${url}/avatars/u/${user.id}`,
      html_url: `${url}/${grant.login}`,
      type: 'User',
      site_admin: false,
      name: user.name,
      email: publicEmail,
    });
  }

  return {
    url,
    requests,
    set: (next) => {
      m = next;
    },
    reset: () => {
      m = {};
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
