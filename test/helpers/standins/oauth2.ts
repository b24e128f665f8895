/**
 * A plain OAuth 2.0 authorization server on loopback (no OpenID Connect: no ID tokens, no JWKS): RFC 6749 §4.1
 * authorization code with PKCE S256 required (RFC 7636), client_secret_basic (§2.3.1), refresh tokens that rotate
 * and are refused when reused (RFC 9700 §4.14.2), RFC 8414 metadata at /.well-known/oauth-authorization-server (or
 * none, for the `server` option), and two profile APIs: /userinfo (`sub`) and /api/profile (a numeric `id`).
 * The authorization endpoint approves at once as the user set with `as()`. Each test switches on one
 * misbehaviour with `set()`, undone by `reset()`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type TestServer, startServer } from '../servers.js';
import { readBody, sendJson as json } from '../http-body.js';

export const OAUTH2_CLIENT_ID = 'oauth2-client';
export const OAUTH2_CLIENT_SECRET = 'oauth2-client-secret-0123456789abcdef0123456789';

/** Users of the stand-in: what its two profile APIs say about them. */
export const OAUTH2_USERS = {
  ada: { id: 42, sub: 'ada-sub', name: 'Ada', roles: ['admin', 'staff'] },
  bob: { id: 7, sub: 'bob-sub', name: 'Bob', roles: ['staff'] },
};

export interface OAuth2Misbehaviour {
  /** How the profile APIs fail: HTTP 500, no answer, not JSON, JSON without the subject, a JSON array, a 401 with a challenge. */
  profile?: 'status500' | 'hang' | 'garbage' | 'no-sub' | 'array' | 'challenge';
  /** The token response carries an ID token anyway (about someone else, unverifiable): an OAuth 2.0 login must neither use nor keep it. */
  strayIdToken?: boolean;
}

export interface OAuth2StandIn {
  issuer: string;
  server: TestServer;
  /** Requests per path. */
  hits: Record<string, number>;
  /** The query of every authorization request. */
  authorizeRequests: URLSearchParams[];
  /** grant_type -> successful token responses. */
  grants: Record<string, number>;
  /** The user the next authorization request signs in. */
  as(user: keyof typeof OAUTH2_USERS): void;
  set(m: OAuth2Misbehaviour): void;
  reset(): void;
  close(): Promise<void>;
}


function clientAuthenticated(header: string | undefined): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
  return id === OAUTH2_CLIENT_ID && secret === OAUTH2_CLIENT_SECRET;
}

/** A JWT shaped like an ID token about someone else, with a signature no key made: nothing may trust it. */
function strayIdToken(issuer: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'nobody' })}.${part({ iss: issuer, aud: OAUTH2_CLIENT_ID, sub: 'someone-else', iat: now, exp: now + 300 })}.${Buffer.from('not a signature').toString('base64url')}`;
}

/** Starts the stand-in; `metadata: false` serves no RFC 8414 document (404), as for the `server` option. */
export async function startOAuth2StandIn(options: { metadata?: boolean } = {}): Promise<OAuth2StandIn> {
  const server = await startServer();
  const issuer = server.url;
  const hits: Record<string, number> = {};
  const authorizeRequests: URLSearchParams[] = [];
  const grants: Record<string, number> = {};
  const codes = new Map<string, { user: keyof typeof OAUTH2_USERS; challenge: string; redirectUri: string; scope: string }>();
  const accessTokens = new Map<string, keyof typeof OAUTH2_USERS>();
  const refreshTokens = new Map<string, { user: keyof typeof OAUTH2_USERS; scope: string; used: boolean }>();
  let user: keyof typeof OAUTH2_USERS = 'ada';
  let m: OAuth2Misbehaviour = {};

  const issue = (who: keyof typeof OAUTH2_USERS, scope: string, grant: string) => {
    const access = randomBytes(16).toString('base64url');
    const refresh = randomBytes(16).toString('base64url');
    accessTokens.set(access, who);
    refreshTokens.set(refresh, { user: who, scope, used: false });
    grants[grant] = (grants[grant] ?? 0) + 1;
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: refresh,
      scope,
      ...(m.strayIdToken && { id_token: strayIdToken(issuer) }),
    };
  };

  server.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    hits[url.pathname] = (hits[url.pathname] ?? 0) + 1;
    if (url.pathname === '/.well-known/oauth-authorization-server' && options.metadata !== false) {
      // RFC 8414 §2.
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        revocation_endpoint: `${issuer}/revoke`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['profile', 'email', 'roles'],
      });
    }
    if (url.pathname === '/authorize') {
      authorizeRequests.push(url.searchParams);
      const back = new URL(url.searchParams.get('redirect_uri')!);
      const state = url.searchParams.get('state');
      if (state) back.searchParams.set('state', state);
      const challenge = url.searchParams.get('code_challenge');
      if (url.searchParams.get('client_id') !== OAUTH2_CLIENT_ID || !challenge || url.searchParams.get('code_challenge_method') !== 'S256') {
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', 'PKCE S256 is required');
      } else {
        const code = randomBytes(16).toString('base64url');
        codes.set(code, { user, challenge, redirectUri: back.origin + back.pathname, scope: url.searchParams.get('scope') ?? '' });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (!clientAuthenticated(req.headers.authorization)) return json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="oauth2"' });
      if (form.get('grant_type') === 'authorization_code') {
        const code = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        if (!code || createHash('sha256').update(verifier).digest('base64url') !== code.challenge || form.get('redirect_uri') !== code.redirectUri) {
          return json(res, 400, { error: 'invalid_grant' });
        }
        return json(res, 200, issue(code.user, code.scope, 'authorization_code'));
      }
      if (form.get('grant_type') === 'refresh_token') {
        const grant = refreshTokens.get(form.get('refresh_token') ?? '');
        if (!grant || grant.used) return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token unknown or reused' });
        grant.used = true;
        return json(res, 200, issue(grant.user, grant.scope, 'refresh_token'));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (url.pathname === '/revoke' && req.method === 'POST') {
      await readBody(req);
      res.writeHead(200).end();
      return;
    }
    if (url.pathname === '/userinfo' || url.pathname === '/api/profile') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const who = token ? accessTokens.get(token) : undefined;
      if (!who || m.profile === 'challenge') return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      if (m.profile === 'hang') return; // never answers
      if (m.profile === 'status500') return json(res, 500, { error: 'server_error' });
      if (m.profile === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('<html>oops</html>');
      }
      if (m.profile === 'array') return json(res, 200, [OAUTH2_USERS[who]]);
      const { id, sub, ...rest } = OAUTH2_USERS[who];
      const body = url.pathname === '/userinfo' ? { sub, ...rest } : { id, username: who, ...rest };
      if (m.profile === 'no-sub') return json(res, 200, rest);
      return json(res, 200, body);
    }
    json(res, 404, { error: 'not_found' });
  });

  return {
    issuer,
    server,
    hits,
    authorizeRequests,
    grants,
    as(next) {
      user = next;
    },
    set(next) {
      m = next;
    },
    reset() {
      m = {};
      user = 'ada';
    },
    close: () => server.close(),
  };
}
