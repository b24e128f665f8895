/**
 * Token exchange (RFC 8693) on the test OP: oidc-provider has no built-in token exchange, so this registers it as a
 * custom grant type (registerGrantType). The handler does what an IdP's token exchange does: the client is already
 * authenticated by oidc-provider; the subject token must be an access token it issued to this client, still valid;
 * the audience must be one this client may ask for (else invalid_target, §2.2.2); the issued token is an access
 * token for that audience, of the same user, with a short lifetime. Every exchange is recorded for assertions, and
 * `resourceServer` is a downstream API that accepts only tokens issued for its audience.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from 'oidc-provider';
import type { TestIdp } from './idp.js';
import { type TestServer, startServer } from './servers.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export interface Exchange {
  subjectToken: string;
  audience?: string;
  resource?: string;
  scope?: string;
  issued?: string;
  error?: string;
}

type Ctx = {
  oidc: {
    params: Record<string, string | undefined>;
    client: { clientId: string };
    provider: TestIdp['provider'];
  };
  body: unknown;
};

/** Registers the grant on `idp`; `audiences` are those the client may ask for; `ttl` the issued tokens' lifetime. */
export function enableTokenExchange(idp: TestIdp, options: { audiences: string[]; ttl?: number }): Exchange[] {
  const exchanges: Exchange[] = [];
  const handler = async (ctx: Ctx) => {
    const { params, client, provider } = ctx.oidc;
    const record: Exchange = {
      subjectToken: String(params.subject_token),
      ...(params.audience && { audience: params.audience }),
      ...(params.resource && { resource: params.resource }),
      ...(params.scope && { scope: params.scope }),
    };
    exchanges.push(record);
    if (params.subject_token_type !== ACCESS_TOKEN) throw new errors.InvalidRequest('unsupported subject_token_type');
    const subject = await provider.AccessToken.find(String(params.subject_token));
    if (!subject || subject.isExpired || subject.clientId !== client.clientId) {
      record.error = 'invalid_grant';
      throw new errors.InvalidGrant('subject token invalid');
    }
    const audience = params.audience ?? params.resource;
    if (!audience || !options.audiences.includes(audience)) {
      record.error = 'invalid_target';
      throw new errors.InvalidTarget('this client may not ask for that audience');
    }
    const token = new provider.AccessToken({
      accountId: subject.accountId,
      client: await provider.Client.find(client.clientId),
      grantId: subject.grantId,
      gty: 'token-exchange',
      scope: params.scope ?? subject.scope,
      aud: audience,
      expiresIn: options.ttl ?? 300,
    } as never);
    const value = await token.save();
    record.issued = value;
    ctx.body = { access_token: value, issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', expires_in: options.ttl ?? 300, ...(params.scope && { scope: params.scope }) };
  };
  idp.provider.registerGrantType(TOKEN_EXCHANGE, handler as never, ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope', 'requested_token_type']);
  return exchanges;
}

/** A downstream API for `audience`: 200 with the token's user for a token the IdP issued for it, else 401. */
export async function startResourceServer(idp: TestIdp, audience: string): Promise<TestServer & { calls: string[] }> {
  const calls: string[] = [];
  const server = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    calls.push(token);
    const found = token ? await idp.provider.AccessToken.find(token) : undefined;
    const ok = found && !found.isExpired && (found as unknown as { aud?: string }).aud === audience;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { sub: found.accountId, aud: audience, scope: found.scope } : { error: 'invalid_token' }));
  });
  return Object.assign(server, { calls });
}
