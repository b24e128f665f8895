/**
 * A stand-in for Sign in with Apple on loopback, following Apple's public documentation
 * (https://developer.apple.com/documentation/signinwithapple/request-an-authorization-to-the-sign-in-with-apple-server,
 * .../generate-and-validate-tokens, .../creating-a-client-secret):
 * - `/auth/authorize` refuses `name`/`email` scopes without `response_mode=form_post`, and answers with an
 *   auto-submitting form POSTing `code` and `state`, plus the `user` JSON (name and e-mail) on the user's first
 *   authorization of this client only;
 * - `/auth/token` takes client_secret_post only, where the secret is an ES256 JWT of the team's key (`kid`), `iss` the
 *   team id, `sub` the client id, `aud` https://appleid.apple.com, at most six months from `iat` to `exp`, verified
 *   with jose; errors are `{ "error": "invalid_client" }` and friends with status 400;
 * - ID tokens carry `email`, `email_verified` and `is_private_email` as strings, `nonce_supported`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type CryptoKey, type JWK, SignJWT, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { type TestServer, startServer } from '../servers.js';
import { readBody, sendJson } from '../http-body.js';

export const APPLE_TEAM_ID = 'A1B2C3D4E5';
export const APPLE_KEY_ID = 'KEY1234567';
export const APPLE_CLIENT_ID = 'com.example.web';

export interface AppleStandin {
  origin: string;
  /** The team's Sign in with Apple key, as the downloaded .p8 file (PKCS#8 PEM). */
  p8: string;
  /** Every client secret presented at the token endpoint. */
  secrets: string[];
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void =>
  sendJson(res, status, body, { 'content-type': 'application/json;charset=UTF-8' });


const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startAppleStandin(): Promise<AppleStandin> {
  const server: TestServer = await startServer();
  const origin = server.url;
  const team = await generateKeyPair('ES256', { extractable: true });
  const p8 = await exportPKCS8(team.privateKey);
  const signing = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(signing.publicKey)), kid: 'apple-standin', use: 'sig', alg: 'RS256' };
  const codes = new Map<string, { nonce?: string; challenge?: string; redirectUri: string }>();
  const authorizedBefore = new Set<string>();
  const secrets: string[] = [];

  async function clientSecretValid(secret: string, clientId: string): Promise<boolean> {
    try {
      if (decodeProtectedHeader(secret).kid !== APPLE_KEY_ID) return false;
      const { payload } = await jwtVerify(secret, team.publicKey as CryptoKey, { algorithms: ['ES256'], issuer: APPLE_TEAM_ID, audience: 'https://appleid.apple.com', subject: clientId });
      return typeof payload.iat === 'number' && typeof payload.exp === 'number' && payload.exp - payload.iat <= 15777000;
    } catch {
      return false;
    }
  }

  server.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: origin,
        authorization_endpoint: `${origin}/auth/authorize`,
        token_endpoint: `${origin}/auth/token`,
        revocation_endpoint: `${origin}/auth/revoke`,
        jwks_uri: `${origin}/auth/keys`,
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'name'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'iat', 'is_private_email', 'iss', 'nonce', 'nonce_supported', 'real_user_status', 'sub', 'transfer_sub'],
      });
    }
    if (url.pathname === '/auth/keys') return json(res, 200, { keys: [jwk] });
    if (url.pathname === '/auth/authorize') {
      const p = url.searchParams;
      const scopes = (p.get('scope') ?? '').split(' ');
      if ((scopes.includes('name') || scopes.includes('email')) && p.get('response_mode') !== 'form_post') {
        res.writeHead(400, { 'content-type': 'text/html' });
        return res.end('invalid_request: response_mode must be form_post when name or email scope is requested.');
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, { redirectUri: p.get('redirect_uri') ?? '', ...(p.get('nonce') && { nonce: p.get('nonce')! }), ...(p.get('code_challenge') && { challenge: p.get('code_challenge')! }) });
      const fields: Record<string, string> = { state: p.get('state') ?? '', code };
      const first = !authorizedBefore.has(p.get('client_id') ?? '');
      authorizedBefore.add(p.get('client_id') ?? '');
      if (first && scopes.includes('name')) fields.user = JSON.stringify({ name: { firstName: 'Ada', lastName: 'Lovelace' }, email: 'ada@privaterelay.appleid.test' });
      const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${escape(v)}">`).join('');
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(`<html><body onload="document.forms[0].submit()"><form method="post" action="${escape(p.get('redirect_uri') ?? '')}">${inputs}</form></body></html>`);
    }
    if (url.pathname === '/auth/token' && req.method === 'POST') {
      const body = new URLSearchParams(await readBody(req));
      const clientId = body.get('client_id') ?? '';
      const secret = body.get('client_secret') ?? '';
      secrets.push(secret);
      if (req.headers.authorization || clientId !== APPLE_CLIENT_ID || !(await clientSecretValid(secret, clientId))) return json(res, 400, { error: 'invalid_client' });
      const issued = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (!issued || issued.redirectUri !== body.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' });
      if (issued.challenge !== createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url')) return json(res, 400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const id_token = await new SignJWT({
        iss: origin, aud: clientId, exp: now + 600, iat: now, sub: '001234.0abc1234def5678.1234', auth_time: now,
        email: 'ada@privaterelay.appleid.test', email_verified: 'true', is_private_email: 'true', nonce_supported: true,
        ...(issued.nonce && { nonce: issued.nonce }),
      }).setProtectedHeader({ alg: 'RS256', kid: jwk.kid! }).sign(signing.privateKey);
      return json(res, 200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 3600, refresh_token: randomBytes(16).toString('hex'), id_token });
    }
    json(res, 404, { error: 'not_found' });
  });

  return { origin, p8, secrets, close: () => server.close() };
}
