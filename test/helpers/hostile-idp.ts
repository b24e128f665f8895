/**
 * A small hand-made OpenID Provider for cases an honest, certified OP never produces: bad signatures, wrong
 * iss/aud/nonce, `alg: none`, HMAC tokens, expired or future tokens, token endpoint errors, hangs, key rotation.
 * Everything it signs goes through jose; nothing here re-implements JOSE.
 *
 * Honest by default (PKCE S256 checked, client_secret_basic checked); each test switches on one misbehaviour
 * with `set({...})`, which lasts until `reset()`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type JWK, SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import { type TestServer, startServer } from './servers.js';
import { readBody } from './http-body.js';

type Claims = Record<string, unknown>;

export interface Misbehaviour {
  /** Answer /userinfo with this status and JSON body (default: 200 with the ID token's sub). */
  userinfo?: { status?: number; body: unknown };
  /** Changes the ID token claims before signing. */
  claims?: (claims: Claims) => Claims;
  /** 'none' → unsigned; 'HS256' → HMAC with the client secret; 'other-key' → RS256 with a key not in the JWKS. */
  signing?: 'none' | 'HS256' | 'other-key';
  /** Answer the token request with this status and JSON body instead of tokens. */
  tokenError?: { status: number; body: unknown; contentType?: string };
  /** Delay the token endpoint response (ms). */
  tokenDelayMs?: number;
  /** Hold every token request (after recording it) until this promise settles, then misbehave as set. */
  tokenHold?: Promise<unknown>;
  /** The `iss` authorization response parameter: undefined → correct, null → omitted, string → that value. */
  issParam?: string | null;
  /** Redirect back with this error instead of a code. */
  authError?: { error: string; error_description?: string };
  /** Omit the id_token from the token response. */
  noIdToken?: boolean;
  /** Extra fields in discovery. */
  discovery?: Claims;
  /** Answer discovery with this status. */
  discoveryStatus?: number;
  /** The token endpoint drops the connection without answering (an IdP that is down behind a proxy). */
  tokenDown?: boolean;
  /** The JWKS endpoint drops the connection without answering. */
  jwksDown?: boolean;
  /** The revocation endpoint hangs (never answers), drops the connection, or answers with this status and body. */
  revocation?: 'hang' | 'drop' | { status: number; body: unknown };
  /** Answer refresh grants with an ID token too (built like the login's, through `claims`). */
  refreshIdToken?: boolean;
  /** JARM responses (response_mode *jwt): signed with another key or unsigned, for another audience, or expired. */
  jarm?: { signing?: 'none' | 'other-key'; aud?: string; iss?: string; expired?: boolean };
}

interface Issued {
  nonce?: string;
  challenge?: string;
  redirectUri: string;
  used: boolean;
}

export interface HostileIdp {
  issuer: string;
  server: TestServer;
  /** Requests per path, for cache assertions. */
  hits: Record<string, number>;
  /** Codes redeemed at the token endpoint (including replays). */
  tokenRequests: URLSearchParams[];
  /** Requests to the revocation endpoint (RFC 7009): the form, and whether client_secret_basic matched. */
  revocationRequests: Array<{ body: URLSearchParams; authenticated: boolean }>;
  /**
   * Signs arbitrary claims as this IdP would (e.g. a logout token), or with one of the `signing` defects.
   * `typ` sets the JOSE typ header.
   */
  sign(claims: Record<string, unknown>, opts?: { signing?: Misbehaviour['signing']; typ?: string }): Promise<string>;
  set(m: Misbehaviour): void;
  reset(): void;
  /** Starts signing with a new key (new kid) and serves it in the JWKS. */
  rotateKey(): Promise<void>;
  /** Stops listening (connections are refused) until `start()`; the issuer URL stays the same. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export const HOSTILE_CLIENT_ID = 'hostile-client';
export const HOSTILE_CLIENT_SECRET = 'hostile-client-secret-0123456789abcdef0123456789';

async function newKey(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(6).toString('hex');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** RFC 6749 §2.3.1: client_secret_basic with form-urlencoded id and secret. */
function basicAuthMatches(header: string | undefined): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString().split(':');
  const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return decode(id) === HOSTILE_CLIENT_ID && decode(secret) === HOSTILE_CLIENT_SECRET;
}

function json(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export async function startHostileIdp(): Promise<HostileIdp> {
  const server = await startServer();
  const issuer = server.url;
  let key = await newKey();
  const otherKey = await newKey();
  const servedKeys: JWK[] = [key.jwk];
  const codes = new Map<string, Issued>();
  const hits: Record<string, number> = {};
  const tokenRequests: URLSearchParams[] = [];
  const revocationRequests: HostileIdp['revocationRequests'] = [];
  let m: Misbehaviour = {};

  async function idToken(nonce: string | undefined): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let claims: Claims = { iss: issuer, aud: HOSTILE_CLIENT_ID, sub: 'mallory-or-not', iat: now, exp: now + 300, email: 'user@hostile.test' };
    if (nonce) claims.nonce = nonce;
    if (m.claims) claims = m.claims(claims);
    return sign(claims, { ...(m.signing && { signing: m.signing }) });
  }

  async function sign(claims: Claims, opts: { signing?: Misbehaviour['signing']; typ?: string } = {}): Promise<string> {
    const typ = opts.typ ? { typ: opts.typ } : {};
    if (opts.signing === 'none') return new UnsecuredJWT(claims).encode();
    if (opts.signing === 'HS256') {
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...typ }).sign(new TextEncoder().encode(HOSTILE_CLIENT_SECRET));
    }
    const signer = opts.signing === 'other-key' ? otherKey : key;
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.jwk.kid!, ...typ }).sign(signer.privateKey);
  }

  server.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    hits[url.pathname] = (hits[url.pathname] ?? 0) + 1;
    if (url.pathname === '/.well-known/openid-configuration') {
      if (m.discoveryStatus) return json(res, m.discoveryStatus, { error: 'nope' });
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        revocation_endpoint: `${issuer}/revoke`,
        ...m.discovery,
      });
    }
    if (url.pathname === '/jwks') {
      if (m.jwksDown) return void res.socket?.destroy();
      return json(res, 200, { keys: servedKeys });
    }
    if (url.pathname === '/authorize') {
      const redirectUri = url.searchParams.get('redirect_uri')!;
      const back = new URL(redirectUri);
      const state = url.searchParams.get('state');
      if (state) back.searchParams.set('state', state);
      if (m.authError) {
        back.searchParams.set('error', m.authError.error);
        if (m.authError.error_description) back.searchParams.set('error_description', m.authError.error_description);
      } else {
        const code = randomBytes(16).toString('base64url');
        codes.set(code, {
          redirectUri,
          used: false,
          ...(url.searchParams.get('nonce') && { nonce: url.searchParams.get('nonce')! }),
          ...(url.searchParams.get('code_challenge') && { challenge: url.searchParams.get('code_challenge')! }),
        });
        back.searchParams.set('code', code);
      }
      if (m.issParam !== null) back.searchParams.set('iss', m.issParam ?? issuer);
      const mode = url.searchParams.get('response_mode') ?? '';
      if (mode.endsWith('jwt')) {
        // JARM §2.1: the response parameters become the claims of one JWT the IdP signs, with iss, aud and exp.
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          ...Object.fromEntries(back.searchParams),
          iss: m.jarm?.iss ?? issuer,
          aud: m.jarm?.aud ?? url.searchParams.get('client_id'),
          exp: m.jarm?.expired ? now - 600 : now + 60,
        };
        const response = await sign(claims, { ...(m.jarm?.signing && { signing: m.jarm.signing }) });
        back.search = '';
        if (mode === 'form_post.jwt') {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end(`<form method="post" action="${back.href}"><input type="hidden" name="response" value="${response}"></form>`);
        }
        back.searchParams.set('response', response);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const body = new URLSearchParams(await readBody(req));
      tokenRequests.push(body);
      if (m.tokenHold) await m.tokenHold;
      if (m.tokenDown) return void res.socket?.destroy();
      if (m.tokenDelayMs) await new Promise((r) => setTimeout(r, m.tokenDelayMs));
      if (res.destroyed) return;
      if (!basicAuthMatches(req.headers.authorization)) return json(res, 401, { error: 'invalid_client' });
      if (m.tokenError) return json(res, m.tokenError.status, m.tokenError.body, m.tokenError.contentType);
      if (body.get('grant_type') === 'refresh_token') {
        return json(res, 200, {
          access_token: randomBytes(16).toString('hex'),
          token_type: 'Bearer',
          expires_in: 300,
          ...(m.refreshIdToken && { id_token: await idToken(undefined) }),
        });
      }
      const issued = codes.get(body.get('code') ?? '');
      if (!issued || issued.used) return json(res, 400, { error: 'invalid_grant', error_description: 'code unknown or used' });
      issued.used = true;
      const verifier = body.get('code_verifier') ?? '';
      if (issued.challenge !== createHash('sha256').update(verifier).digest('base64url')) {
        return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      }
      return json(res, 200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        refresh_token: randomBytes(16).toString('hex'),
        ...(!m.noIdToken && { id_token: await idToken(issued.nonce) }),
      });
    }
    if (url.pathname === '/revoke' && req.method === 'POST') {
      const body = new URLSearchParams(await readBody(req));
      revocationRequests.push({ body, authenticated: basicAuthMatches(req.headers.authorization) });
      if (m.revocation === 'hang') return; // never answers; the connection stays open until the client gives up
      if (m.revocation === 'drop') return void res.socket?.destroy();
      if (m.revocation) return json(res, m.revocation.status, m.revocation.body);
      res.writeHead(200).end(); // RFC 7009 §2.2: 200, also for a token it does not know
      return;
    }
    if (url.pathname === '/userinfo') {
      if (m.userinfo) return json(res, m.userinfo.status ?? 200, m.userinfo.body);
      return json(res, 200, { sub: 'mallory-or-not' });
    }
    json(res, 404, { error: 'not_found' });
  });

  return {
    issuer,
    server,
    hits,
    tokenRequests,
    revocationRequests,
    sign,
    set(next) {
      m = next;
    },
    reset() {
      m = {};
    },
    async rotateKey() {
      key = await newKey();
      servedKeys.push(key.jwk);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.server.closeAllConnections();
        server.server.close(() => resolve());
      }),
    start: () => new Promise<void>((resolve) => server.server.listen(server.port, '127.0.0.1', () => resolve())),
    close: () => (server.server.listening ? server.close() : Promise.resolve()),
  };
}
