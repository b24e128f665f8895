/**
 * The configuration of a plain OAuth 2.0 login: what it resolves to, and every rule that refuses a mixed or
 * incomplete one, each with a message that names the field and what to do.
 */
import { ConfigError, providers } from '../lib/index.js';
import { resolveConfig } from '../lib/config/schema.js';

const base = { clientId: 'app', clientSecret: 'secret', baseURL: 'https://app.example.com' };
const server = { authorizationEndpoint: 'https://as.example.com/authorize', tokenEndpoint: 'https://as.example.com/token', userinfoEndpoint: 'https://as.example.com/me' };

function problems(input: Record<string, unknown>): string[] {
  try {
    resolveConfig(input as never, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test('a scope without openid is an OAuth 2.0 login; with it, OpenID Connect as before', () => {
  expect(resolveConfig({ ...base, issuer: 'https://as.example.com', scope: 'read' }, {}).protocol).toBe('oauth2');
  expect(resolveConfig({ ...base, issuer: 'https://as.example.com' }, {}).protocol).toBe('oidc');
});

test('server: the issuer is server.issuer, else the authorization endpoint origin; OAUTH_ISSUER is not read', () => {
  expect(resolveConfig({ ...base, scope: 'read', server }, { OAUTH_ISSUER: 'https://elsewhere.example.com' }).issuer).toBe('https://as.example.com');
  expect(resolveConfig({ ...base, scope: 'read', server: { ...server, issuer: 'https://as.example.com/tenant' } }, {}).issuer).toBe('https://as.example.com/tenant');
});

test('the GitHub and GitLab presets resolve as they are', () => {
  const gh = resolveConfig({ ...base, ...providers.github() }, {});
  expect(gh).toMatchObject({ protocol: 'oauth2', issuer: 'https://github.com', tokenEndpointAuthMethod: 'client_secret_post' });
  const gl = resolveConfig({ ...base, ...providers.gitlab({ url: 'https://gitlab.example.com/' }) }, {});
  expect(gl).toMatchObject({ protocol: 'oidc', issuer: 'https://gitlab.example.com', fetchUserinfo: true });
});

test.each<[string, Record<string, unknown>, RegExp]>([
  ['server together with discovery', { scope: 'read', server, discovery: 'oauth2' }, /server and discovery are exclusive/],
  ['neither issuer nor server', { scope: 'read' }, /issuer is required.*or server: \{ authorizationEndpoint, tokenEndpoint \}/],
  ['issuer and server.issuer that differ', { scope: 'read', issuer: 'https://a.example.com', server: { ...server, issuer: 'https://b.example.com' } }, /issuer and server.issuer differ/],
  ['server with an openid scope', { server }, /server needs a scope without "openid"/],
  ['userProfile with an openid scope', { issuer: 'https://as.example.com', userProfile: { url: 'https://as.example.com/me' } }, /userProfile needs a scope without "openid"/],
  ['fetchUserinfo without openid', { scope: 'read', issuer: 'https://as.example.com', fetchUserinfo: true }, /fetchUserinfo is for OpenID Connect logins only/],
  ['idTokenSigningAlgs without openid', { scope: 'read', issuer: 'https://as.example.com', idTokenSigningAlgs: ['RS256'] }, /idTokenSigningAlgs is for OpenID Connect logins only/],
  ['backchannelLogout without openid', { scope: 'read', issuer: 'https://as.example.com', backchannelLogout: true }, /backchannelLogout is for OpenID Connect logins only/],
  ['maxSessionLifetime without openid', { scope: 'read', issuer: 'https://as.example.com', maxSessionLifetime: 3600 }, /maxSessionLifetime is for OpenID Connect logins only.*absoluteTimeout/],
  ['server without any profile source', { scope: 'read', server: { ...server, userinfoEndpoint: undefined } }, /needs a profile source: server.userinfoEndpoint, userProfile.url or a userProfile function/],
  ['an http server endpoint', { scope: 'read', server: { ...server, tokenEndpoint: 'http://as.example.com/token' } }, /server.tokenEndpoint uses http/],
  ['a server endpoint that is not a URL', { scope: 'read', server: { ...server, tokenEndpoint: '/token' } }, /server.tokenEndpoint must be an absolute http\(s\) URL/],
  ['an unknown server field', { scope: 'read', server: { ...server, jwksUri: 'https://as.example.com/jwks' } }, /jwksUri/],
  ['a userProfile with unknown fields', { scope: 'read', issuer: 'https://as.example.com', userProfile: { path: '/me' } }, /userProfile must be \{ url\?, subClaim\? \} or an async function/],
  ['an empty subClaim', { scope: 'read', issuer: 'https://as.example.com', userProfile: { subClaim: '' } }, /userProfile.subClaim must be a non-empty claim name/],
  ['an unknown discovery', { scope: 'read', issuer: 'https://as.example.com', discovery: 'rfc8414' }, /discovery must be "oidc".*or "oauth2"/],
])('refuses %s', (_name, change, message) => {
  const list = problems({ ...base, ...change });
  expect(list.some((p) => message.test(p))).toBe(true);
});
