/** idp/metadata.ts: one read-only copy of the discovered metadata per openid-client Configuration. */
import * as client from 'openid-client';
import { serverMetadataOf } from '../lib/idp/metadata.js';

const metadata = { issuer: 'https://idp.example', authorization_endpoint: 'https://idp.example/auth', token_endpoint: 'https://idp.example/token' };

test('the same frozen copy every time, equal to what serverMetadata() returns', () => {
  const configuration = new client.Configuration(metadata, 'client-1');
  const first = serverMetadataOf(configuration);
  expect(serverMetadataOf(configuration)).toBe(first);
  expect(first).toEqual(configuration.serverMetadata());
  expect(Object.isFrozen(first)).toBe(true);
  expect(() => {
    (first as { issuer: string }).issuer = 'https://evil.example';
  }).toThrow(TypeError);
  // The Configuration itself is untouched by whatever a caller tries on the copy.
  expect(configuration.serverMetadata().issuer).toBe('https://idp.example');
});

test('each Configuration has its own copy', () => {
  const a = new client.Configuration(metadata, 'client-1');
  const b = new client.Configuration({ ...metadata, issuer: 'https://other.example' }, 'client-1');
  expect(serverMetadataOf(a).issuer).toBe('https://idp.example');
  expect(serverMetadataOf(b).issuer).toBe('https://other.example');
});
