/** idp/pkce.ts: node:crypto's values are the ones openid-client's helpers would make, and fresh every time. */
import * as client from 'openid-client';
import { pkceS256Challenge, randomValue } from '../lib/idp/pkce.js';

test('the S256 challenge is the one openid-client computes (RFC 7636 §4.2)', async () => {
  // RFC 7636 Appendix B.
  expect(pkceS256Challenge('dBjftJeZ4CVP-mJ92K9ruHALDmXnfwN2X4VfrBbM7QU')).toBe(await client.calculatePKCECodeChallenge('dBjftJeZ4CVP-mJ92K9ruHALDmXnfwN2X4VfrBbM7QU'));
  for (let i = 0; i < 200; i++) {
    const verifier = i % 2 ? randomValue() : client.randomPKCECodeVerifier();
    expect(pkceS256Challenge(verifier)).toBe(await client.calculatePKCECodeChallenge(verifier));
  }
});

test('random values are 256-bit base64url strings of a valid verifier length, never repeated', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const v = randomValue();
    // 43 characters: the shortest verifier RFC 7636 §4.1 allows, 32 bytes of entropy (RFC 9700 §2.1: >= 128 bits).
    expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(v, 'base64url')).toHaveLength(32);
    seen.add(v);
  }
  expect(seen.size).toBe(1000);
});
