/**
 * The OAuth work a login adds to plain session work, each piece measured alone in this process (the IdP runs in its
 * own, so only the client side counts): the token request through idpFetch (and, for comparison, the global
 * fetch), the ID token signature check with jose against the cached JWKS, the PKCE S256 challenge and the three
 * random values. Explains most of the difference between ours and the baseline in "app CPU per login".
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { idpFetch } from '../dist/idp/http.js';
import { get } from './driver.js';

const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** Median CPU µs of `fn` over `n` runs, `setup` (unmeasured) before each. */
async function measure(n, fn, setup = async () => undefined) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const input = await setup();
    const t0 = cpu();
    await fn(input);
    samples.push(cpu() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export async function measurePieces({ issuer, clientId, clientSecret, n = 200 }) {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  const issueCode = async () => {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const q = new URLSearchParams({ redirect_uri: redirectUri, nonce: 'n', state: 's', code_challenge: challenge });
    const res = await get(`${issuer}/authorize?${q}`);
    return { code: new URL(res.location).searchParams.get('code'), verifier };
  };
  const tokenRequest = (fetchImpl) => async ({ code, verifier }) => {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });
    const res = await fetchImpl(`${issuer}/token`, {
      method: 'POST',
      body,
      headers: { authorization: auth, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    });
    const json = await res.json();
    if (!json.id_token) throw new Error(`token request failed: ${JSON.stringify(json)}`);
    return json.id_token;
  };
  const idToken = await tokenRequest(idpFetch)(await issueCode());
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  await jwtVerify(idToken, jwks); // fetch and cache the keys
  // Warm-up so that JIT compilation is not measured.
  for (let i = 0; i < 50; i++) {
    await tokenRequest(idpFetch)(await issueCode());
    await tokenRequest(fetch)(await issueCode());
    await jwtVerify(idToken, jwks, { currentDate: new Date() });
  }
  return {
    tokenRequestIdpFetch: await measure(n, tokenRequest(idpFetch), issueCode),
    tokenRequestGlobalFetch: await measure(n, tokenRequest(fetch), issueCode),
    idTokenVerify: await measure(n, () => jwtVerify(idToken, jwks)),
    pkceChallenge: await measure(n, () => client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier())),
    randomValues: await measure(n, async () => {
      client.randomState();
      client.randomNonce();
      client.randomPKCECodeVerifier();
    }),
  };
}
