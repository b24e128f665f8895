/**
 * idp/response.ts: the in-memory response idpFetch resolves behaves like the Fetch standard's Response wherever
 * openid-client (oauth4webapi) and jose read it, side by side with undici's Response over the same bytes.
 */
import { IdpResponse, isFetchResponse } from '../lib/idp/response.js';

const make = (body: string | null, status = 200, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
  const init = { status, statusText: 'OK', headers: new Headers(headers) };
  const bytes = body === null ? null : Buffer.from(body);
  return { ours: new IdpResponse(bytes, { ...init, url: 'https://idp.example/token' }), theirs: new Response(bytes, init) };
};

test('passes for a Response where oauth4webapi checks (prototype toStringTag) and where revocation looks for one', () => {
  const { ours } = make('{}');
  expect(Object.prototype.toString.call(ours)).toBe('[object Response]');
  expect(Object.getPrototypeOf(ours)[Symbol.toStringTag]).toBe((Response.prototype as unknown as Record<symbol, string>)[Symbol.toStringTag]);
  expect(isFetchResponse(ours)).toBe(true);
  expect(isFetchResponse(new Response('x'))).toBe(true);
  expect(isFetchResponse({ status: 200 })).toBe(false);
});

test.each([
  ['a JSON object', '{"access_token":"a","expires_in":60,"nested":{"x":[1,2]}}'],
  ['JSON after a byte order mark', '\ufeff{"a":1}'],
  ['non-ASCII text', '{"name":"Zoë ✓"}'],
])('json() and text() give what undici gives for %s', async (_what, body) => {
  const a = make(body);
  expect(await a.ours.json()).toEqual(await a.theirs.json());
  const b = make(body);
  expect(await b.ours.text()).toBe(await b.theirs.text());
  const c = make(body);
  expect(Buffer.from(await c.ours.arrayBuffer())).toEqual(Buffer.from(await c.theirs.arrayBuffer()));
});

test('invalid JSON rejects with a SyntaxError, like undici', async () => {
  const { ours, theirs } = make('{not json');
  // By name: undici's error comes from Node's own realm, not the test's.
  await expect(theirs.json()).rejects.toMatchObject({ name: 'SyntaxError' });
  await expect(ours.json()).rejects.toMatchObject({ name: 'SyntaxError' });
});

test('a body is read once: bodyUsed, a TypeError on a second read and on a clone after the first', async () => {
  const { ours } = make('{"a":1}');
  expect(ours.bodyUsed).toBe(false);
  await ours.json();
  expect(ours.bodyUsed).toBe(true);
  await expect(ours.text()).rejects.toThrow(TypeError);
  expect(() => ours.clone()).toThrow(TypeError);
});

test('clone() is independent: both copies read the whole body, headers are copied', async () => {
  const { ours } = make('{"a":1}', 400, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="x"' });
  const copy = ours.clone();
  expect(await copy.json()).toEqual({ a: 1 });
  expect(ours.bodyUsed).toBe(false);
  expect(await ours.json()).toEqual({ a: 1 });
  expect(copy.status).toBe(400);
  expect(copy.headers.get('www-authenticate')).toBe('Bearer error="x"');
  expect(copy.headers).not.toBe(ours.headers);
});

test('status, ok, headers, url; a null body is null and reads as empty', async () => {
  const ok = make('{}', 201).ours;
  expect([ok.status, ok.ok, ok.statusText, ok.url, ok.redirected]).toEqual([201, true, 'OK', 'https://idp.example/token', false]);
  expect(ok.headers.get('content-type')).toBe('application/json');
  expect(make('{}', 302).ours.ok).toBe(false);
  const empty = make(null, 204).ours;
  expect(empty.body).toBeNull();
  expect(await empty.text()).toBe('');
});

test('body is a stream of the bytes (what oauth4webapi cancels on an error response)', async () => {
  const { ours } = make('{"error":"invalid_grant"}', 400);
  const text = await new Response(ours.body).text();
  expect(text).toBe('{"error":"invalid_grant"}');
  await expect(make('x').ours.body!.cancel()).resolves.toBeUndefined();
});
