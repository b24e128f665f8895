/**
 * A configurable OpenID Provider stand-in on loopback, set up per test to follow one provider's public docs: its
 * issuer path (and trailing slash), its endpoint paths, the metadata it publishes or leaves out, when it issues
 * refresh tokens, and its access token shape. The presets' tests (test/presets.test.ts) describe each provider
 * with it; the Entra ID stand-in (entra.ts) is separate because of its tenants. Signing goes through jose.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { type TestServer, startServer } from '../servers.js';
import { readBody, sendJson as json } from '../http-body.js';

export const STANDIN_CLIENT_ID = 'standin-client';
export const STANDIN_CLIENT_SECRET = 'standin-client-secret-0123456789abcdef0123';

export interface StandinProfile {
  /** The issuer's path on the stand-in's origin, e.g. '' (origin), '/oauth2/default', '/realms/demo'. */
  issuerPath: string;
  /** Auth0: the issuer ends with '/'. */
  trailingSlash?: boolean;
  /** Endpoint paths on the origin (absolute paths, not under the issuer unless written so). */
  paths: { authorization: string; token: string; jwks: string; userinfo: string; endSession?: string; revocation?: string; logout?: string };
  /** Whether a code grant also issues a refresh token, from the authorization request's parameters. */
  refreshToken?: (auth: URLSearchParams) => boolean;
  /** Extra metadata fields. */
  metadata?: Record<string, unknown>;
  /** Claims of the ID token besides the protocol ones. */
  claims?: Record<string, unknown>;
  /** The access token for the authorization request (e.g. a JWT for an Auth0 `audience`), default opaque. */
  accessToken?: (auth: URLSearchParams, sign: (claims: Record<string, unknown>) => Promise<string>) => Promise<string>;
}

export interface OidcStandin {
  origin: string;
  issuer: string;
  /** Every authorization request's parameters. */
  authorizations: URLSearchParams[];
  /** Every token request's form and how the client authenticated. */
  tokens: Array<{ body: URLSearchParams; auth: 'basic' | 'post' | 'none' }>;
  /** Requests to the `logout` path (a provider's own logout endpoint). */
  logouts: URLSearchParams[];
  close(): Promise<void>;
}


function clientAuth(req: IncomingMessage, body: URLSearchParams): 'basic' | 'post' | 'none' | 'bad' {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    return id === STANDIN_CLIENT_ID && secret === STANDIN_CLIENT_SECRET ? 'basic' : 'bad';
  }
  if (body.has('client_secret')) return body.get('client_id') === STANDIN_CLIENT_ID && body.get('client_secret') === STANDIN_CLIENT_SECRET ? 'post' : 'bad';
  return 'bad';
}

export async function startOidcStandin(profile: StandinProfile): Promise<OidcStandin> {
  const server: TestServer = await startServer();
  const origin = server.url;
  const issuer = `${origin}${profile.issuerPath}${profile.trailingSlash ? '/' : ''}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: randomBytes(6).toString('hex'), use: 'sig', alg: 'RS256' };
  const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid! }).sign(privateKey);
  const codes = new Map<string, { auth: URLSearchParams; redirectUri: string }>();
  const refreshTokens = new Set<string>();
  const authorizations: URLSearchParams[] = [];
  const tokens: OidcStandin['tokens'] = [];
  const logouts: URLSearchParams[] = [];
  const at = (path: string | undefined) => (path === undefined ? undefined : `${origin}${path}`);

  async function tokenResponse(auth: URLSearchParams | undefined, refresh: boolean) {
    const now = Math.floor(Date.now() / 1000);
    const id_token = await sign({
      iss: issuer,
      aud: STANDIN_CLIENT_ID,
      sub: 'standin-user-1',
      iat: now,
      exp: now + 3600,
      ...profile.claims,
      ...(auth?.get('nonce') && { nonce: auth.get('nonce') }),
    });
    const refresh_token = refresh ? randomBytes(16).toString('hex') : undefined;
    if (refresh_token) refreshTokens.add(refresh_token);
    const access_token = auth && profile.accessToken ? await profile.accessToken(auth, sign) : randomBytes(16).toString('hex');
    return { access_token, token_type: 'Bearer', expires_in: 3600, id_token, ...(refresh_token && { refresh_token }) };
  }

  server.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    if (path === `${profile.issuerPath}/.well-known/openid-configuration`) {
      return json(res, 200, {
        issuer,
        authorization_endpoint: at(profile.paths.authorization),
        token_endpoint: at(profile.paths.token),
        jwks_uri: at(profile.paths.jwks),
        userinfo_endpoint: at(profile.paths.userinfo),
        ...(profile.paths.endSession && { end_session_endpoint: at(profile.paths.endSession) }),
        ...(profile.paths.revocation && { revocation_endpoint: at(profile.paths.revocation) }),
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        code_challenge_methods_supported: ['S256'],
        ...profile.metadata,
      });
    }
    if (path === profile.paths.jwks) return json(res, 200, { keys: [jwk] });
    if (path === profile.paths.authorization) {
      authorizations.push(url.searchParams);
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      const back = new URL(redirectUri);
      const code = randomBytes(16).toString('base64url');
      codes.set(code, { auth: url.searchParams, redirectUri });
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (path === profile.paths.token && req.method === 'POST') {
      const body = new URLSearchParams(await readBody(req));
      const auth = clientAuth(req, body);
      if (auth === 'bad') return json(res, 401, { error: 'invalid_client' });
      tokens.push({ body, auth });
      if (body.get('grant_type') === 'refresh_token') {
        if (!refreshTokens.has(body.get('refresh_token') ?? '')) return json(res, 400, { error: 'invalid_grant' });
        return json(res, 200, await tokenResponse(undefined, false));
      }
      const issued = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (!issued || issued.redirectUri !== body.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' });
      if (issued.auth.get('code_challenge') !== createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url')) {
        return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      }
      return json(res, 200, await tokenResponse(issued.auth, profile.refreshToken?.(issued.auth) ?? true));
    }
    if (path === profile.paths.userinfo) return json(res, 200, { sub: 'standin-user-1', ...profile.claims });
    if (path === profile.paths.logout || path === profile.paths.endSession) {
      logouts.push(url.searchParams);
      const to = url.searchParams.get('logout_uri') ?? url.searchParams.get('post_logout_redirect_uri');
      res.writeHead(to ? 302 : 200, to ? { location: to } : {});
      return res.end();
    }
    json(res, 404, { error: 'not_found' });
  });

  return { origin, issuer, authorizations, tokens, logouts, close: () => server.close() };
}
