/**
 * Issue 7, configuration: client authentication methods, security profiles and response modes are validated at
 * start-up with a ConfigError whose message names the field and what to fix.
 */
import { generateKeyPairSync } from 'node:crypto';
import { type OAuthLoginConfig, resolveConfig } from '../lib/config/schema.js';
import { ConfigError, oauthLogin } from '../lib/index.js';

const base = { issuer: 'https://idp.example.com', clientId: 'app', baseURL: 'https://app.example.com' };
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaJwk = { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'rsa-1' };
const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

/** The problems listed by the ConfigError that `config` causes (fails the test when none is thrown). */
function problems(config: Partial<OAuthLoginConfig>): string[] {
  try {
    resolveConfig({ ...base, ...config } as OAuthLoginConfig, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const resolves = (config: Partial<OAuthLoginConfig>) => resolveConfig({ ...base, ...config } as OAuthLoginConfig, {});

describe('client authentication', () => {
  test('a secret method without clientSecret names clientSecret and the alternative', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^clientSecret is required.*OAUTH_CLIENT_SECRET.*"private_key_jwt" with clientPrivateKey/)]);
    expect(problems({ tokenEndpointAuthMethod: 'client_secret_jwt' })).toEqual([expect.stringMatching(/^clientSecret is required/)]);
  });

  test('private_key_jwt needs no clientSecret, and resolves the key with its kid and alg', () => {
    const c = resolves({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: rsaJwk });
    expect(c.clientSecret).toBeUndefined();
    expect(c.clientKey).toMatchObject({ kid: 'rsa-1', alg: 'RS256' });
    const pem = resolves({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: ecPem, clientPrivateKeyId: 'ec-1' });
    expect(pem.clientKey).toMatchObject({ kid: 'ec-1', alg: 'ES256' });
    const json = resolves({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: JSON.stringify({ ...rsaJwk, alg: 'PS256' }) });
    expect(json.clientKey).toMatchObject({ kid: 'rsa-1', alg: 'PS256' });
  });

  test('private_key_jwt without a key, with a PEM but no kid, or with a public key is refused', () => {
    expect(problems({ tokenEndpointAuthMethod: 'private_key_jwt' })).toEqual([expect.stringMatching(/^clientPrivateKey is required with tokenEndpointAuthMethod "private_key_jwt"/)]);
    expect(problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: ecPem })).toEqual([expect.stringMatching(/^clientPrivateKey has no kid.*clientPrivateKeyId/)]);
    const publicOnly = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'pub' };
    const [message] = problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: publicOnly });
    expect(message).toMatch(/^clientPrivateKey is not a usable private key/);
    expect(problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: 'not a key' })).toEqual([expect.stringMatching(/not a usable private key/)]);
  });

  test('the key never appears in an error message', () => {
    const broken = ecPem.replace('MIG', 'XXX');
    const all = problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: broken, clientPrivateKeyId: 'k' }).join('\n');
    expect(all).toMatch(/clientPrivateKey/);
    expect(all).not.toContain(broken.split('\n')[2]);
    const wrongAlg = problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: { ...rsaJwk, alg: 'ES256' } }).join('\n');
    expect(wrongAlg).toMatch(/alg "ES256" does not fit a rsa key/);
    expect(wrongAlg).not.toContain(String(rsaJwk.d).slice(0, 20));
  });

  test('a key with a secret method, a kid that disagrees, or a short client_secret_jwt secret is refused', () => {
    expect(problems({ clientSecret: 's', clientPrivateKey: rsaJwk })).toEqual([expect.stringMatching(/^clientPrivateKey is only used with tokenEndpointAuthMethod "private_key_jwt" or requestObject: true/)]);
    expect(problems({ tokenEndpointAuthMethod: 'private_key_jwt', clientPrivateKey: rsaJwk, clientPrivateKeyId: 'other' })).toEqual([expect.stringMatching(/^clientPrivateKeyId \("other"\) differs/)]);
    expect(problems({ tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: 'short' })).toEqual([expect.stringMatching(/^clientSecret must be at least 32 characters/)]);
    expect(problems({ tokenEndpointAuthMethod: 'client_secret_tls' as never, clientSecret: 's' })).toEqual([expect.stringMatching(/^tokenEndpointAuthMethod must be one of .*"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"/)]);
  });

  test('OAUTH_CLIENT_PRIVATE_KEY is used for private_key_jwt and ignored otherwise', () => {
    const env = { OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(rsaJwk), OAUTH_CLIENT_SECRET: 'from-env' };
    expect(resolveConfig({ ...base, tokenEndpointAuthMethod: 'private_key_jwt' }, env).clientKey?.kid).toBe('rsa-1');
    expect(resolveConfig({ ...base }, env).clientKey).toBeUndefined();
  });
});

describe('responseMode and reserved parameters', () => {
  test('responseMode accepts query, form_post and the JARM modes; response_mode, dpop_jkt and request_uri are reserved', () => {
    for (const mode of ['form_post', 'jwt', 'query.jwt', 'form_post.jwt'] as const) expect(resolves({ clientSecret: 's', responseMode: mode }).responseMode).toBe(mode);
    expect(problems({ clientSecret: 's', responseMode: 'fragment' as never })).toEqual(['responseMode must be one of "query", "form_post", "jwt", "query.jwt", "form_post.jwt"']);
    const reserved = problems({ clientSecret: 's', authorizationParams: { response_mode: 'form_post', dpop_jkt: 'x', request_uri: 'y' } });
    expect(reserved).toHaveLength(3);
    expect(reserved[0]).toMatch(/authorizationParams\.response_mode is set by the middleware/);
  });
});

describe('profile "fapi2"', () => {
  const fapi = { profile: 'fapi2' as const, clientPrivateKey: rsaJwk };

  test('switches on private_key_jwt (PS256 for an RSA key), PAR, DPoP and FAPI signing algorithms', () => {
    const c = resolves(fapi);
    expect(c.tokenEndpointAuthMethod).toBe('private_key_jwt');
    expect(c.pushedAuthorizationRequests).toBe(true);
    expect(c.dpop).toBe(true);
    expect(c.clientKey?.alg).toBe('PS256');
    expect(c.idTokenSigningAlgs).toEqual(['PS256', 'ES256', 'EdDSA', 'Ed25519']);
  });

  test.each<[string, Partial<OAuthLoginConfig>, RegExp]>([
    ['a client secret method', { tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's', clientPrivateKey: undefined }, /^tokenEndpointAuthMethod must be "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth" with profile "fapi2"/],
    ['PAR switched off', { pushedAuthorizationRequests: false }, /^pushedAuthorizationRequests cannot be false with profile "fapi2"/],
    ['DPoP switched off without mTLS', { dpop: false }, /^dpop cannot be false with profile "fapi2" .*unless clientCertificate binds the tokens \(mTLS, RFC 8705\)/],
    ['RS256 ID tokens', { idTokenSigningAlgs: ['RS256', 'PS256'] }, /^idTokenSigningAlgs may only contain PS256, ES256, EdDSA, Ed25519 with profile "fapi2".*, not RS256/],
    ['an RS256 client assertion key', { clientPrivateKey: { ...rsaJwk, alg: 'RS256' } }, /^clientPrivateKey must sign with PS256.*not RS256/],
  ])('refuses %s, naming the field', (_name, override, message) => {
    expect(problems({ ...fapi, ...override })).toContainEqual(expect.stringMatching(message));
  });

  test('an unknown profile is refused', () => {
    expect(problems({ ...fapi, profile: 'fapi1' as never })).toContainEqual('profile must be "fapi2"');
  });
});

describe('several providers', () => {
  const provider = (name: string, extra: Partial<OAuthLoginConfig> = {}) => ({ ...base, clientSecret: 's', name, ...extra });
  const refused = (configs: unknown): string[] => {
    try {
      oauthLogin(configs as never);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  };

  test('a named provider gets /login/<name>, /callback/<name> and a shared /logout; explicit routes win', () => {
    const c = resolves({ clientSecret: 's', name: 'okta' });
    expect(c.routes).toMatchObject({ login: '/login/okta', callback: '/callback/okta', logout: '/logout' });
    expect(c.redirectUri).toBe('https://app.example.com/callback/okta');
    expect(resolves({ clientSecret: 's', name: 'okta', routes: { callback: '/cb' } }).routes).toMatchObject({ login: '/login/okta', callback: '/cb' });
    expect(problems({ clientSecret: 's', name: 'no spaces/allowed' })).toEqual([expect.stringMatching(/^name must be 1-32 letters/)]);
  });

  test('missing or duplicate names, shared routes and per-provider problems are all listed, each with its provider', () => {
    const list = refused([provider('google'), { ...base, clientSecret: 's' }, provider('google'), provider('okta', { routes: { login: '/login/google' } }), provider('bad', { clientSecret: undefined })]);
    expect(list).toEqual([
      'providers[1]: name is required with several providers, e.g. { name: \'google\', ... }',
      'providers[2] ("google"): name "google" is used twice; names must be unique',
      expect.stringMatching(/^providers\[2\] \("google"\): route \/login\/google is also used by provider "google"/),
      expect.stringMatching(/^providers\[2\] \("google"\): route \/callback\/google is also used/),
      expect.stringMatching(/^providers\[3\] \("okta"\): route \/login\/google is also used/),
      expect.stringMatching(/^providers\[4\] \("bad"\): clientSecret is required/),
    ]);
    expect(refused([])).toEqual(['oauthLogin([...]) needs at least one provider']);
  });

  test('a single configuration keeps its plain routes', () => {
    expect(resolves({ clientSecret: 's' }).routes).toMatchObject({ login: '/login', callback: '/callback', logout: '/logout' });
  });
});
