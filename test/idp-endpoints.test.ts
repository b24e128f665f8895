/**
 * Which IdP endpoint a call went to, as telemetry reports it (`express_oauth_login.idp.endpoint`): from the IdP's
 * metadata, mTLS aliases included (RFC 8705 §5), `discovery` for well-known documents, `other` for the rest.
 */
import { endpointKind } from '../lib/idp/endpoints.js';

const metadata = {
  issuer: 'https://idp.example.com',
  token_endpoint: 'https://idp.example.com/oauth/token',
  userinfo_endpoint: 'https://idp.example.com/userinfo',
  jwks_uri: 'https://idp.example.com/.well-known/jwks.json',
  pushed_authorization_request_endpoint: 'https://idp.example.com/par',
  revocation_endpoint: 'https://idp.example.com/oauth/revoke',
  introspection_endpoint: 'https://idp.example.com/oauth/introspect',
  mtls_endpoint_aliases: { token_endpoint: 'https://mtls.idp.example.com/oauth/token', revocation_endpoint: 'https://mtls.idp.example.com/oauth/revoke' },
};

test.each([
  ['https://idp.example.com/oauth/token', 'token'],
  ['https://idp.example.com/userinfo', 'userinfo'],
  ['https://idp.example.com/.well-known/jwks.json', 'jwks'],
  ['https://idp.example.com/par', 'par'],
  ['https://idp.example.com/oauth/revoke', 'revocation'],
  ['https://mtls.idp.example.com/oauth/token', 'token'],
  ['https://mtls.idp.example.com/oauth/revoke', 'revocation'],
  ['https://idp.example.com/.well-known/openid-configuration', 'discovery'],
  ['https://idp.example.com/oauth/introspect', 'other'],
  ['https://idp.example.com/userinfo?schema=openid', 'userinfo'],
  ['not a url', 'other'],
])('%s is %s', (url, kind) => {
  expect(endpointKind(url, metadata)).toBe(kind);
});
