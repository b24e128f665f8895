/**
 * Issue 14, configuration of the second round of client security, validated at start-up with a ConfigError that
 * names the field: clientCertificate (mTLS), requestObject (JAR), clientEncryptionKeys / encryptedResponses, and
 * profile "fapi2" with mTLS as the sender constraint. Keys never appear in a message.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parseClientCertificate } from '../lib/config/client-certificate.js';
import { type OAuthLoginConfig, resolveConfig } from '../lib/config/schema.js';
import { ConfigError } from '../lib/index.js';
import { makeTestPki } from './helpers/tls.js';

const base = { issuer: 'https://idp.example.com', clientId: 'app', baseURL: 'https://app.example.com' };
const pki = makeTestPki();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = { ...ec.privateKey.export({ format: 'jwk' }), kid: 'sig-1' };
const rsaEnc = { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'enc-1' };

function problems(config: Partial<OAuthLoginConfig>): string[] {
  try {
    resolveConfig({ ...base, ...config } as OAuthLoginConfig, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
const resolves = (config: Partial<OAuthLoginConfig>, env: NodeJS.ProcessEnv = {}) => resolveConfig({ ...base, ...config } as OAuthLoginConfig, env);
const certificate = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca };

describe('clientCertificate and the mTLS methods', () => {
  test('tls_client_auth with a certificate needs no secret and resolves its x5t#S256 thumbprint', () => {
    const c = resolves({ tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate });
    expect(c.clientSecret).toBeUndefined();
    expect(c.clientTls).toMatchObject({ thumbprint: pki.client.thumbprint, ca: [pki.ca] });
    expect(resolves({ tokenEndpointAuthMethod: 'self_signed_tls_client_auth', clientCertificate: { cert: pki.selfSigned.cert, key: pki.selfSigned.key } }).clientTls?.thumbprint).toBe(pki.selfSigned.thumbprint);
    // A certificate with a secret method: certificate-bound tokens only.
    expect(resolves({ clientSecret: 's', clientCertificate: certificate }).clientTls?.thumbprint).toBe(pki.client.thumbprint);
  });

  test('an mTLS method without clientCertificate is refused, naming the field', () => {
    expect(problems({ tokenEndpointAuthMethod: 'tls_client_auth' })).toEqual([expect.stringMatching(/^clientCertificate is required with tokenEndpointAuthMethod "tls_client_auth"/)]);
    expect(problems({ tokenEndpointAuthMethod: 'self_signed_tls_client_auth' })).toEqual([expect.stringMatching(/^clientCertificate is required/)]);
  });

  test('a broken certificate, a key that is not its key, a bad CA or a wrong shape is refused, never quoting the key', () => {
    const method = { tokenEndpointAuthMethod: 'tls_client_auth' as const };
    expect(problems({ ...method, clientCertificate: { cert: 'not a cert', key: pki.client.key } })).toEqual([expect.stringMatching(/^clientCertificate.cert is not a PEM certificate/)]);
    const wrongKey = problems({ ...method, clientCertificate: { cert: pki.client.cert, key: pki.otherClient.key } }).join('\n');
    expect(wrongKey).toMatch(/clientCertificate.key is not the private key of clientCertificate.cert/);
    const broken = pki.client.key.replace(/[A-Za-z]{8}/, 'XXXXXXXX');
    const brokenMessage = problems({ ...method, clientCertificate: { cert: pki.client.cert, key: broken } }).join('\n');
    expect(brokenMessage).toMatch(/clientCertificate.key is not a usable PEM private key/);
    expect(brokenMessage).not.toContain(broken.split('\n')[1]);
    expect(problems({ ...method, clientCertificate: { ...certificate, ca: ['nope'] } })).toEqual([expect.stringMatching(/^clientCertificate.ca\[0\] is not a PEM certificate/)]);
    expect(problems({ ...method, clientCertificate: { cert: pki.client.cert } as never })).toContainEqual(expect.stringMatching(/clientCertificate.key must be a PEM string/));
    expect(problems({ ...method, clientCertificate: { ...certificate, password: 'x' } as never })).toContainEqual(expect.stringMatching(/unknown option|Unrecognized key/i));
  });

  test('an expired certificate is refused with its end date (checked at start-up)', () => {
    const later = Date.now() + 10 * 24 * 3600 * 1000;
    expect(parseClientCertificate({ cert: pki.client.cert, key: pki.client.key }, later)).toEqual({ error: expect.stringMatching(/^clientCertificate.cert expired on .+: renew it$/) });
  });
});

describe('requestObject (JAR)', () => {
  test('signs with clientPrivateKey whatever the client authentication; OAUTH_CLIENT_PRIVATE_KEY is read for it', () => {
    const c = resolves({ clientSecret: 's', requestObject: true, clientPrivateKey: signingJwk });
    expect(c.tokenEndpointAuthMethod).toBe('client_secret_basic');
    expect(c.clientKey).toMatchObject({ kid: 'sig-1', alg: 'ES256' });
    expect(resolves({ clientSecret: 's', requestObject: true }, { OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(signingJwk) }).clientKey?.kid).toBe('sig-1');
    expect(resolves({ clientSecret: 's' }, { OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(signingJwk) }).clientKey).toBeUndefined();
  });

  test('requestObject without a key is refused, naming clientPrivateKey and requestObject', () => {
    expect(problems({ clientSecret: 's', requestObject: true })).toEqual([expect.stringMatching(/^clientPrivateKey is required with requestObject: true/)]);
    expect(problems({ clientSecret: 's', requestObject: 'yes' as never })).toEqual(['requestObject must be true or false']);
  });
});

describe('clientEncryptionKeys and encryptedResponses', () => {
  test('private RSA and EC keys resolve with their algorithms; ID token encryption is required by default', () => {
    const c = resolves({ clientSecret: 's', clientEncryptionKeys: [rsaEnc, { ...ec.privateKey.export({ format: 'jwk' }), kid: 'enc-2', alg: 'ECDH-ES+A128KW' }] });
    expect(c.encryptionKeys?.map((k) => [k.kid, k.alg])).toEqual([['enc-1', 'RSA-OAEP-256'], ['enc-2', 'ECDH-ES+A128KW']]);
    expect(c.requireEncrypted).toEqual(['id_token']);
    expect(resolves({ clientSecret: 's', clientEncryptionKeys: [rsaEnc], encryptedResponses: ['userinfo'] }).requireEncrypted).toEqual(['userinfo']);
    expect(resolves({ clientSecret: 's', clientEncryptionKeys: [JSON.stringify(rsaEnc)], encryptedResponses: [] }).requireEncrypted).toEqual([]);
    expect(resolves({ clientSecret: 's' }).requireEncrypted).toEqual([]);
  });

  test('public keys, signing keys, wrong algorithms, shared kids and encryptedResponses without keys are refused', () => {
    const publicOnly = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'pub' };
    expect(problems({ clientSecret: 's', clientEncryptionKeys: [publicOnly] })).toEqual([expect.stringMatching(/^clientEncryptionKeys\[0\] is not a private JWK/)]);
    expect(problems({ clientSecret: 's', clientEncryptionKeys: [rsaEnc, { ...rsaEnc, alg: 'ECDH-ES' }] })).toEqual([expect.stringMatching(/^clientEncryptionKeys\[1\]: alg "ECDH-ES" does not fit this key/)]);
    expect(problems({ clientSecret: 's', clientEncryptionKeys: [{ ...rsaEnc, use: 'sig' }] })).toEqual([expect.stringMatching(/"use": "sig"; a decryption key must be "enc"/)]);
    expect(problems({ clientSecret: 's', clientEncryptionKeys: [rsaEnc, { ...rsaEnc }] })).toEqual(['clientEncryptionKeys: two keys share a kid']);
    expect(problems({ clientSecret: 's', encryptedResponses: ['id_token'] })).toEqual([expect.stringMatching(/^encryptedResponses needs clientEncryptionKeys/)]);
    expect(problems({ clientSecret: 's', clientEncryptionKeys: [] })).toEqual([expect.stringMatching(/at least one key/)]);
    const message = problems({ clientSecret: 's', clientEncryptionKeys: [{ ...rsaEnc, kty: 'oct' }] }).join('\n');
    expect(message).toMatch(/^clientEncryptionKeys\[0\] is not a private JWK/);
    expect(message).not.toContain(String(rsaEnc.d).slice(0, 16));
  });
});

describe('profile "fapi2" with mTLS', () => {
  test('a client certificate is the sender constraint: DPoP is no longer switched on, and tls_client_auth is accepted', () => {
    const c = resolves({ profile: 'fapi2', tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate });
    expect(c.dpop).toBe(false);
    expect(c.pushedAuthorizationRequests).toBe(true);
    expect(c.clientTls?.thumbprint).toBe(pki.client.thumbprint);
    // private_key_jwt authentication with mTLS-bound tokens, and DPoP on top when asked for, are fine too.
    expect(resolves({ profile: 'fapi2', clientPrivateKey: { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'k' }, clientCertificate: certificate }).dpop).toBe(false);
    expect(resolves({ profile: 'fapi2', tokenEndpointAuthMethod: 'tls_client_auth', clientCertificate: certificate, dpop: true }).dpop).toBe(true);
  });

  test('neither DPoP nor mTLS is refused, naming both ways to sender-constrain the tokens', () => {
    expect(problems({ profile: 'fapi2', clientPrivateKey: { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'k' }, dpop: false })).toEqual([
      expect.stringMatching(/^dpop cannot be false with profile "fapi2" \(FAPI 2.0 Security Profile\) unless clientCertificate binds the tokens \(mTLS, RFC 8705\)/),
    ]);
  });
});
