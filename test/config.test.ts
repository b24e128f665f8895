/** The configuration is validated once, at oauthLogin() time, with one message per problem that says what to fix. */
import { jest } from '@jest/globals';
import { ConfigError, oauthLogin } from '../lib/index.js';
import { resolveConfig } from '../lib/config/schema.js';

const valid = { issuer: 'https://idp.example.com', clientId: 'app', clientSecret: 'secret', baseURL: 'https://app.example.com' };

function problems(config: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(config as never, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('config_invalid');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

test('defaults: scope, routes, client_secret_basic, a few-second timeout', () => {
  const c = resolveConfig(valid, {});
  expect(c.scope).toBe('openid profile email');
  expect(c.routes).toEqual({ login: '/login', callback: '/callback', logout: '/logout', backchannelLogout: '/backchannel-logout' });
  expect(c.tokenEndpointAuthMethod).toBe('client_secret_basic');
  expect(c.httpTimeout).toBe(5000);
  expect(c.redirectUri).toBe('https://app.example.com/callback');
  expect(c.secureCookies).toBe(true);
});

test('every missing required field is reported at once, each naming its environment variable', () => {
  const list = problems({}, {});
  expect(list).toHaveLength(4);
  expect(list.join('\n')).toMatch(/issuer is required.*OAUTH_ISSUER/);
  expect(list.join('\n')).toMatch(/clientId is required.*OAUTH_CLIENT_ID/);
  expect(list.join('\n')).toMatch(/clientSecret is required.*OAUTH_CLIENT_SECRET/);
  expect(list.join('\n')).toMatch(/baseURL is required.*OAUTH_BASE_URL/);
});

test('environment variables fill unset fields; explicit options win', () => {
  const env = {
    OAUTH_ISSUER: 'https://env-idp.example.com',
    OAUTH_CLIENT_ID: 'env-app',
    OAUTH_CLIENT_SECRET: 'env-secret',
    OAUTH_BASE_URL: 'https://env-app.example.com/',
  };
  const c = resolveConfig({ clientId: 'explicit' }, env);
  expect(c.issuer).toBe('https://env-idp.example.com');
  expect(c.clientId).toBe('explicit');
  expect(c.clientSecret).toBe('env-secret');
  expect(c.redirectUri).toBe('https://env-app.example.com/callback');
});

test.each<[string, Record<string, unknown>, RegExp]>([
  ['an http issuer without allowInsecureRequests', { issuer: 'http://idp.example.com' }, /issuer uses http.*allowInsecureRequests/],
  ['a non-URL issuer', { issuer: 'idp.example.com' }, /issuer must be an absolute http\(s\) URL/],
  ['an http baseURL on a public host', { baseURL: 'http://app.example.com' }, /baseURL uses http on a non-loopback host/],
  ['a baseURL with a query', { baseURL: 'https://app.example.com/?x=1' }, /baseURL must not contain a query/],
  ['an OpenID-Connect-only option with a plain OAuth 2.0 scope', { scope: 'profile email', fetchUserinfo: true }, /fetchUserinfo is for OpenID Connect logins only/],
  ['an unknown auth method', { tokenEndpointAuthMethod: 'none' }, /tokenEndpointAuthMethod must be/],
  ['a reserved authorization parameter', { authorizationParams: { state: 'fixed' } }, /authorizationParams.state is set by the middleware/],
  ['scope in authorizationParams', { authorizationParams: { scope: 'openid' } }, /use the scope option/],
  ['a route that is not a path', { routes: { login: 'login' } }, /routes.login must be a path/],
  ['two routes on one path', { routes: { login: '/auth', callback: '/auth' } }, /must differ/],
  ['a misspelled option', { clientSecert: 'x' }, /unknown option\(s\): clientSecert/],
  ['an httpTimeout in seconds by mistake', { httpTimeout: 5 }, /httpTimeout is in milliseconds/],
  ['a huge clockTolerance', { clockTolerance: 3600 }, /clockTolerance is in seconds/],
  ['alg none', { idTokenSigningAlgs: ['RS256', 'none'] }, /alg "none"/],
  ['an absolute lifetime shorter than the idle one', { idleTimeout: 7200, absoluteTimeout: 3600 }, /absoluteTimeout must be >= idleTimeout/],
])('refuses %s with a message that says what to fix', (_name, change, message) => {
  const list = problems({ ...valid, ...change }, {});
  expect(list.some((p) => message.test(p))).toBe(true);
});

test('http on loopback is fine for baseURL; an http issuer needs allowInsecureRequests and then warns loudly', async () => {
  expect(resolveConfig({ ...valid, baseURL: 'http://127.0.0.1:3000' }, {}).secureCookies).toBe(false);
  // A spy that calls through: the real warning is still printed.
  const emit = jest.spyOn(process, 'emitWarning');
  try {
    oauthLogin({ ...valid, issuer: 'http://127.0.0.1:9', allowInsecureRequests: true });
    expect(emit).toHaveBeenCalledWith(
      expect.stringContaining('allowInsecureRequests is on'),
      expect.objectContaining({ type: 'SecurityWarning' }),
    );
    emit.mockClear();
    oauthLogin(valid);
    expect(emit).not.toHaveBeenCalled();
  } finally {
    emit.mockRestore();
  }
});

test('oauthLogin() throws the ConfigError at start-up, not on the first request', () => {
  expect(() => oauthLogin({ ...valid, issuer: 'nope' })).toThrow(ConfigError);
  expect(() => oauthLogin({ ...valid, issuer: 'nope' })).toThrow(/invalid configuration:\n {2}- issuer/);
});

test('the secret never appears in a configuration error', () => {
  const list = problems({ ...valid, clientSecret: 'super-secret-value', issuer: 'bad' }, {});
  expect(list.join('\n')).not.toContain('super-secret-value');
});
