/**
 * The test OpenID Provider: the example app's embedded oidc-provider (a certified OP) on loopback, configured for
 * a confidential client with client_secret_basic, PKCE required, refresh tokens, RP-initiated logout and token
 * revocation. It counts the grants it serves and records what reached its revocation and end-session endpoints,
 * so tests can assert how often the app talked to it.
 */
import { startIdp } from '../../example-app/idp.js';
import { type TestServer, startServer } from './servers.js';

export const CLIENT_ID = 'test-client';
export const CLIENT_SECRET = 'test-client-secret-that-is-long-enough-0123456789';

export interface TestIdp {
  issuer: string;
  /** grant_type -> number of successful token responses. */
  grants: Record<string, number>;
  events: string[];
  /** Every request that reached the revocation endpoint (RFC 7009): the token and its hint. */
  revocations: Array<{ token: string; hint?: string }>;
  /** Every request that reached the end-session endpoint: the HTTP method and the parameters (query or body). */
  endSessions: Array<{ method: string; params: Record<string, string> }>;
  /** Asks the token endpoint for new tokens with `refreshToken` (as the app would); resolves to the HTTP status. */
  refreshWith(refreshToken: string): Promise<number>;
  provider: Awaited<ReturnType<typeof startIdp>>['provider'];
  /** The IdP's HTTP server, e.g. to see the headers of the requests it gets. */
  server: Awaited<ReturnType<typeof startIdp>>['server'];
  /** Every request the IdP's server received, as `METHOD path?query`, in order. */
  requests: string[];
  /** The IdP's request listener, to serve it on another server as well (the mTLS front in mtls-idp.ts). */
  listener: Awaited<ReturnType<typeof startIdp>>['listener'];
  close(): Promise<void>;
}

export interface TestIdpOptions {
  /** The apps' base URLs; each gets `${base}/callback` registered and `${base}/logout` as post-logout URI. */
  appBases: string[];
  accessTokenTTL?: number;
  rotateRefreshTokens?: boolean;
  autoConsent?: boolean;
  tokenEndpointAuthMethod?: string;
  backchannelLogoutUri?: string;
  /** Accounts besides the demo users: login -> password and claims. */
  users?: Record<string, { password: string; claims: Record<string, unknown> }>;
  /** Redirect paths registered per app base, default ['/callback']. */
  callbackPaths?: string[];
  /**
   * The client's public keys (private_key_jwt), served at a loopback jwks_uri: oidc-provider structuredClones
   * static client metadata, which moves an inline `jwks` out of the jest VM realm and fails its plain-object check.
   */
  clientJwks?: { keys: object[] };
  /** Extra client metadata (dpop_bound_access_tokens, require_pushed_authorization_requests, ...). */
  clientMetadata?: Record<string, unknown>;
  /** oidc-provider feature settings, see example-app/idp.js. */
  features?: Record<string, object>;
  /** The IdP's signing algorithm (default RS256). */
  signingAlg?: string;
  /** More oidc-provider configuration (discovery, clientAuthMethods, enabledJWA, ...), see example-app/idp.js. */
  configuration?: Record<string, unknown>;
}

export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const grants: Record<string, number> = {};
  const events: string[] = [];
  let jwksServer: TestServer | undefined;
  const revocations: TestIdp['revocations'] = [];
  const endSessions: TestIdp['endSessions'] = [];
  // A koa middleware of the OP itself: after each request, what oidc-provider parsed from it.
  const record = async (ctx: { method: string; oidc?: unknown }, next: () => Promise<void>) => {
    await next();
    const oidc = ctx.oidc as { route?: string; params?: Record<string, unknown> } | undefined;
    const params = Object.fromEntries(Object.entries(oidc?.params ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
    if (oidc?.route === 'revocation') revocations.push({ token: params.token ?? '', ...(params.token_type_hint && { hint: params.token_type_hint }) });
    if (oidc?.route === 'end_session') endSessions.push({ method: ctx.method, params });
  };
  if (options.clientJwks) {
    const body = JSON.stringify(options.clientJwks);
    jwksServer = await startServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  }
  const idp = await startIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: options.appBases.flatMap((b) => (options.callbackPaths ?? ['/callback']).map((p) => `${b}${p}`)),
        post_logout_redirect_uris: options.appBases.map((b) => `${b}/logout`),
        token_endpoint_auth_method: (options.tokenEndpointAuthMethod ?? 'client_secret_basic') as 'client_secret_basic',
        ...(options.backchannelLogoutUri && {
          backchannel_logout_uri: options.backchannelLogoutUri,
          // Makes oidc-provider put `sid` in ID tokens and logout tokens (Back-Channel Logout 1.0 §2.2).
          backchannel_logout_session_required: true,
        }),
        ...(jwksServer && { jwks_uri: `${jwksServer.url}/jwks.json` }),
        ...options.clientMetadata,
      },
    ],
    ...(options.features && { features: options.features }),
    use: [record as never],
    ...(options.signingAlg && { signingAlg: options.signingAlg }),
    ...(options.configuration && { configuration: options.configuration }),
    autoConsent: options.autoConsent ?? true,
    ...(options.accessTokenTTL !== undefined && { accessTokenTTL: options.accessTokenTTL }),
    rotateRefreshTokens: options.rotateRefreshTokens ?? false,
    ...(options.users && { users: options.users }),
    onEvent: (event, detail) => {
      events.push(event);
      if (event === 'grant.success') {
        const grantType = String((detail as { ctx: { oidc: { params: { grant_type?: string } } } }).ctx.oidc.params.grant_type);
        grants[grantType] = (grants[grantType] ?? 0) + 1;
      }
    },
  });
  const refreshWith = async (refreshToken: string) => {
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    return res.status;
  };
  const requests: string[] = [];
  idp.server.prependListener('request', (req: { method?: string; url?: string }) => requests.push(`${req.method} ${req.url}`));
  const close = async () => {
    await idp.close();
    await jwksServer?.close();
  };
  return { issuer: idp.issuer, grants, events, requests, revocations, endSessions, refreshWith, provider: idp.provider, server: idp.server, listener: idp.listener, close };
}
