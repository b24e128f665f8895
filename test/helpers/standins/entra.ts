/**
 * A stand-in for Microsoft Entra ID (v2.0 endpoints) on loopback, following its public documentation:
 * https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc and .../id-token-claims-reference.
 *
 * - `/{tenant}/v2.0/.well-known/openid-configuration` for `common`, `organizations` (issuer
 *   `<origin>/{tenantid}/v2.0`, the literal template) and for a tenant id (its own issuer);
 * - `/{tenant}/oauth2/v2.0/authorize` signs the next user in at once (`signInAs`) and redirects with `code` and
 *   `state` (Entra sends no RFC 9207 `iss` parameter); `/{tenant}/oauth2/v2.0/token` redeems codes (PKCE S256,
 *   client_secret_post or _basic) and refresh tokens, answering with v2.0 ID tokens (`iss` of the user's tenant,
 *   `tid`, `oid`, `preferred_username`, `ver: "2.0"`), errors as `{ error, error_description, error_codes }`;
 * - `/{tenant}/discovery/v2.0/keys` the signing keys (one set for every tenant), `/{tenant}/oauth2/v2.0/logout`.
 * Signing goes through jose.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { type TestServer, startServer } from '../servers.js';
import { readBody, sendJson } from '../http-body.js';

export const ENTRA_CLIENT_ID = '6731de76-14a6-49ae-97bc-6eba6914391e';
export const ENTRA_CLIENT_SECRET = 'entra-standin-client-secret-0123456789abcdef';
export const TENANT_A = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const TENANT_B = '9b1c2d3e-0000-4000-8000-00000000000b';

type Claims = Record<string, unknown>;

export interface EntraUser {
  tid: string;
  oid: string;
  name: string;
  preferred_username: string;
}

export interface EntraStandin {
  origin: string;
  server: TestServer;
  /** The user the next authorization request signs in. */
  signInAs(user: EntraUser): void;
  /** Changes ID token claims before signing (logins and refreshes), until `reset()`. */
  tamper(change: ((claims: Claims, grant: 'authorization_code' | 'refresh_token') => Claims) | undefined): void;
  /**
   * Send the RFC 9207 `iss` parameter (and advertise it), as a templated IdP other than Entra might: `true` for the
   * user's tenant's issuer, a string for that value; `undefined` (Entra's behaviour) for none.
   */
  issParam(value: boolean | string | undefined): void;
  /** Token requests seen, with their grant type. */
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void =>
  sendJson(res, status, body, { 'content-type': 'application/json; charset=utf-8' });


/** Entra's error body shape (AADSTS codes in `error_codes`). */
function entraError(res: ServerResponse, status: number, error: string, code: number, description: string): void {
  json(res, status, { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString() });
}

function clientAuthenticated(req: IncomingMessage, body: URLSearchParams): boolean {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    return id === ENTRA_CLIENT_ID && secret === ENTRA_CLIENT_SECRET;
  }
  return body.get('client_id') === ENTRA_CLIENT_ID && body.get('client_secret') === ENTRA_CLIENT_SECRET;
}

export async function startEntraStandin(): Promise<EntraStandin> {
  const server = await startServer();
  const origin = server.url;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: randomBytes(6).toString('hex'), use: 'sig', alg: 'RS256' };
  const codes = new Map<string, { user: EntraUser; nonce?: string; challenge?: string; redirectUri: string }>();
  const refreshTokens = new Map<string, EntraUser>();
  const tokenRequests: URLSearchParams[] = [];
  let next: EntraUser = { tid: TENANT_A, oid: 'oid-alice', name: 'Alice', preferred_username: 'alice@contoso.test' };
  let iss: boolean | string | undefined;
  let tamper: ((claims: Claims, grant: 'authorization_code' | 'refresh_token') => Claims) | undefined;

  const issuerOf = (tenant: string) => `${origin}/${tenant}/v2.0`;
  const multi = (tenant: string) => tenant === 'common' || tenant === 'organizations';

  async function idToken(user: EntraUser, grant: 'authorization_code' | 'refresh_token', nonce?: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let claims: Claims = {
      ver: '2.0',
      iss: issuerOf(user.tid),
      aud: ENTRA_CLIENT_ID,
      iat: now,
      nbf: now,
      exp: now + 3600,
      sub: createHash('sha256').update(`${user.oid}:${ENTRA_CLIENT_ID}`).digest('base64url'),
      oid: user.oid,
      tid: user.tid,
      name: user.name,
      preferred_username: user.preferred_username,
      ...(nonce !== undefined && { nonce }),
    };
    if (tamper) claims = tamper(claims, grant);
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, typ: 'JWT' }).sign(privateKey);
  }

  async function tokens(user: EntraUser, grant: 'authorization_code' | 'refresh_token', nonce?: string) {
    const refresh = randomBytes(24).toString('base64url');
    refreshTokens.set(refresh, user);
    return {
      token_type: 'Bearer',
      scope: 'openid profile email offline_access',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: randomBytes(24).toString('base64url'),
      refresh_token: refresh,
      id_token: await idToken(user, grant, nonce),
    };
  }

  server.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const [, tenant = '', ...rest] = url.pathname.split('/');
    const path = `/${rest.join('/')}`;
    if (path === '/v2.0/.well-known/openid-configuration') {
      const base = `${origin}/${tenant}`;
      return json(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: multi(tenant) ? issuerOf('{tenantid}') : issuerOf(tenant),
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${origin}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
        ...(iss !== undefined && { authorization_response_iss_parameter_supported: true }),
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
      });
    }
    if (path === '/discovery/v2.0/keys') return json(res, 200, { keys: [jwk] });
    if (path === '/oauth2/v2.0/authorize') {
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      const back = new URL(redirectUri);
      const state = url.searchParams.get('state');
      if (state) back.searchParams.set('state', state);
      if (url.searchParams.get('client_id') !== ENTRA_CLIENT_ID) {
        return entraError(res, 400, 'unauthorized_client', 700016, 'Application not found in the directory.');
      }
      // A tenant-specific authority signs in only its own users (AADSTS50020 otherwise).
      if (!multi(tenant) && tenant !== next.tid) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'AADSTS50020: User account from identity provider does not exist in tenant.');
      } else {
        const code = randomBytes(24).toString('base64url');
        codes.set(code, {
          user: next,
          redirectUri,
          ...(url.searchParams.get('nonce') && { nonce: url.searchParams.get('nonce')! }),
          ...(url.searchParams.get('code_challenge') && { challenge: url.searchParams.get('code_challenge')! }),
        });
        back.searchParams.set('code', code);
        back.searchParams.set('session_state', randomBytes(8).toString('hex'));
      }
      if (iss !== undefined && iss !== false) back.searchParams.set('iss', iss === true ? issuerOf(next.tid) : iss);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (path === '/oauth2/v2.0/token' && req.method === 'POST') {
      const body = new URLSearchParams(await readBody(req));
      tokenRequests.push(body);
      if (!clientAuthenticated(req, body)) return entraError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      if (body.get('grant_type') === 'refresh_token') {
        const user = refreshTokens.get(body.get('refresh_token') ?? '');
        if (!user) return entraError(res, 400, 'invalid_grant', 70008, 'The provided refresh token has expired or been revoked.');
        return json(res, 200, await tokens(user, 'refresh_token'));
      }
      const issued = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (!issued || issued.redirectUri !== body.get('redirect_uri')) {
        return entraError(res, 400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired.');
      }
      if (issued.challenge !== createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url')) {
        return entraError(res, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
      return json(res, 200, await tokens(issued.user, 'authorization_code', issued.nonce));
    }
    if (path === '/oauth2/v2.0/logout') {
      const to = url.searchParams.get('post_logout_redirect_uri');
      res.writeHead(to ? 302 : 200, to ? { location: to } : { 'content-type': 'text/html' });
      return res.end(to ? undefined : 'You signed out of your account.');
    }
    entraError(res, 404, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
  });

  return {
    origin,
    server,
    tokenRequests,
    signInAs(user) {
      next = user;
    },
    tamper(change) {
      tamper = change;
    },
    issParam(value) {
      iss = value;
    },
    close: () => server.close(),
  };
}
