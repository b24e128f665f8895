/**
 * A GitLab stand-in on loopback: the OpenID Provider GitLab documents ("GitLab as OpenID Connect identity
 * provider", "OAuth 2.0 identity provider API"; doorkeeper-openid_connect underneath). Not GitLab, only the shapes
 * a login sees:
 * - discovery at /.well-known/openid-configuration, endpoints under /oauth/ (authorize, token, userinfo, revoke,
 *   introspect, discovery/keys), no end_session_endpoint; RS256 ID tokens;
 * - the ID token carries sub (the numeric user id as a string), sub_legacy, auth_time, name, nickname,
 *   preferred_username, email/email_verified (email scope), website, profile, picture and groups_direct; UserInfo
 *   adds `groups` (inherited groups too) and the https://gitlab.org/claims/groups/* role claims;
 * - the token response has token_type "Bearer", expires_in 7200, a refresh token (rotated on use) and created_at;
 *   errors are Doorkeeper's (invalid_grant 400, invalid_client 401).
 * The authorization endpoint approves at once as `as()` says (GitLab would show its Authorize page first).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { type TestServer, startServer } from '../servers.js';
import { readBody, sendJson } from '../http-body.js';

export const GITLAB_CLIENT_ID = '4e1b0f2c9d8a7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f';
export const GITLAB_CLIENT_SECRET = 'gloas-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab';

export const GITLAB_USERS = {
  jdoe: { id: 1, name: 'Jane Doe', email: 'jane@gitlab.example', confirmed: true, direct: ['acme'], groups: ['acme', 'acme/platform'], owner: ['acme'] },
  rsmith: { id: 27, name: 'Rob Smith', email: 'rob@gitlab.example', confirmed: false, direct: ['oss'], groups: ['oss'], owner: [] as string[] },
};
type Login = keyof typeof GITLAB_USERS;

export interface GitlabStandIn {
  url: string;
  server: TestServer;
  authorizeRequests: URLSearchParams[];
  grants: Record<string, number>;
  as(user: Login): void;
  close(): Promise<void>;
}

const INVALID_GRANT = {
  error: 'invalid_grant',
  error_description:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void =>
  sendJson(res, status, body, { 'content-type': 'application/json; charset=utf-8', ...headers });


/** client_secret_basic or client_secret_post, both of which GitLab accepts. */
function client(req: IncomingMessage, form: URLSearchParams): boolean {
  const basic = req.headers.authorization?.startsWith('Basic ')
    ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')))
    : [form.get('client_id'), form.get('client_secret')];
  return basic[0] === GITLAB_CLIENT_ID && basic[1] === GITLAB_CLIENT_SECRET;
}

export async function startGitlabStandIn(): Promise<GitlabStandIn> {
  const server = await startServer();
  const url = server.url;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
  const codes = new Map<string, { user: Login; challenge: string; redirectUri: string; scope: string; nonce?: string; authTime: number }>();
  const accessTokens = new Map<string, { user: Login; scope: string }>();
  const refreshTokens = new Map<string, { user: Login; scope: string; authTime: number }>();
  const authorizeRequests: URLSearchParams[] = [];
  const grants: Record<string, number> = {};
  let user: Login = 'jdoe';

  const profile = (login: Login, scope: string) => {
    const u = GITLAB_USERS[login];
    const email = scope.split(' ').includes('email');
    return {
      sub: String(u.id),
      sub_legacy: createHash('sha256').update(`legacy-${u.id}`).digest('hex'),
      name: u.name,
      nickname: login,
      preferred_username: login,
      ...(email && { email: u.email, email_verified: u.confirmed }),
      website: '',
      profile: `${url}/${login}`,
      picture: `${url}/uploads/-/system/user/avatar/${u.id}/avatar.png`,
    };
  };

  const tokens = async (login: Login, scope: string, authTime: number, nonce: string | undefined, grant: string) => {
    const access = randomBytes(32).toString('hex');
    const refresh = randomBytes(32).toString('hex');
    accessTokens.set(access, { user: login, scope });
    refreshTokens.set(refresh, { user: login, scope, authTime });
    grants[grant] = (grants[grant] ?? 0) + 1;
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({ ...profile(login, scope), auth_time: authTime, groups_direct: GITLAB_USERS[login].direct, ...(nonce && { nonce }) })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, typ: 'JWT' })
      .setIssuer(url)
      .setAudience(GITLAB_CLIENT_ID)
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .sign(privateKey);
    return { access_token: access, token_type: 'Bearer', expires_in: 7200, refresh_token: refresh, scope, created_at: now, id_token: idToken };
  };

  server.handle(async (req, res) => {
    const u = new URL(req.url ?? '/', url);
    if (u.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: url,
        authorization_endpoint: `${url}/oauth/authorize`,
        token_endpoint: `${url}/oauth/token`,
        revocation_endpoint: `${url}/oauth/revoke`,
        introspection_endpoint: `${url}/oauth/introspect`,
        userinfo_endpoint: `${url}/oauth/userinfo`,
        jwks_uri: `${url}/oauth/discovery/keys`,
        scopes_supported: ['api', 'read_api', 'read_user', 'openid', 'profile', 'email'],
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment', 'form_post'],
        grant_types_supported: ['authorization_code', 'password', 'client_credentials', 'device_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        claim_types_supported: ['normal'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'sub_legacy', 'name', 'nickname', 'preferred_username', 'email', 'email_verified', 'website', 'profile', 'picture', 'groups', 'groups_direct', 'https://gitlab.org/claims/groups/owner', 'https://gitlab.org/claims/groups/maintainer', 'https://gitlab.org/claims/groups/developer'],
        code_challenge_methods_supported: ['plain', 'S256'],
      });
    }
    if (u.pathname === '/oauth/discovery/keys') return json(res, 200, { keys: [jwk] });
    if (u.pathname === '/oauth/authorize') {
      authorizeRequests.push(u.searchParams);
      const back = new URL(u.searchParams.get('redirect_uri')!);
      const code = randomBytes(32).toString('hex');
      codes.set(code, {
        user,
        challenge: u.searchParams.get('code_challenge') ?? '',
        redirectUri: back.href,
        scope: u.searchParams.get('scope') ?? '',
        authTime: Math.floor(Date.now() / 1000),
        ...(u.searchParams.get('nonce') && { nonce: u.searchParams.get('nonce')! }),
      });
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (u.pathname === '/oauth/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (!client(req, form)) {
        return json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.' }, { 'www-authenticate': 'Bearer realm="Doorkeeper", error="invalid_client"' });
      }
      if (form.get('grant_type') === 'authorization_code') {
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const pkce = grant && createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') === grant.challenge;
        if (!grant || !pkce || form.get('redirect_uri') !== grant.redirectUri) return json(res, 400, INVALID_GRANT);
        return json(res, 200, await tokens(grant.user, grant.scope, grant.authTime, grant.nonce, 'authorization_code'));
      }
      if (form.get('grant_type') === 'refresh_token') {
        const grant = refreshTokens.get(form.get('refresh_token') ?? '');
        refreshTokens.delete(form.get('refresh_token') ?? '');
        if (!grant) return json(res, 400, INVALID_GRANT);
        return json(res, 200, await tokens(grant.user, grant.scope, grant.authTime, undefined, 'refresh_token'));
      }
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'The authorization grant type is not supported by the authorization server.' });
    }
    if (u.pathname === '/oauth/userinfo') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const grant = token ? accessTokens.get(token) : undefined;
      if (!grant) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"' });
      const g = GITLAB_USERS[grant.user];
      return json(res, 200, { ...profile(grant.user, grant.scope), groups: g.groups, 'https://gitlab.org/claims/groups/owner': g.owner });
    }
    if (u.pathname === '/oauth/revoke' && req.method === 'POST') {
      await readBody(req);
      return json(res, 200, {});
    }
    json(res, 404, { message: '404 Not Found' });
  });

  return {
    url,
    server,
    authorizeRequests,
    grants,
    as(next) {
      user = next;
    },
    close: () => server.close(),
  };
}
