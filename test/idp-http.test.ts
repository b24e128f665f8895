/** idpFetch, the node:http client behind every call to the IdP: fetch semantics where openid-client and jose rely on them. */
import { idpFetch } from '../lib/idp/http.js';
import { type TestServer, startServer } from './helpers/servers.js';

let server: TestServer;
const seen: { method?: string; headers: Record<string, unknown>; body: string }[] = [];

beforeAll(async () => {
  server = await startServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, headers: req.headers, body });
      const url = new URL(req.url ?? '/', server.url);
      if (url.pathname === '/json') {
        res.writeHead(201, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-one': 'yes' });
        res.end('{"ok":true}');
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: '/json' }).end();
      } else if (url.pathname === '/empty') {
        res.writeHead(204).end();
      } else if (url.pathname === '/huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.alloc(2 * 1024 * 1024, 0x20));
      } else if (url.pathname === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('{"partial":');
        setTimeout(() => res.destroy(), 20);
      } else if (url.pathname === '/slow') {
        setTimeout(() => res.end('late'), 2000);
      }
    });
  });
});
afterAll(() => server.close());

test('POSTs a form body with its content type and length, and returns status, headers and JSON', async () => {
  const res = await idpFetch(`${server.url}/json`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'a b+c' }),
    headers: new Headers({ Authorization: 'Basic eDp5', Accept: 'application/json' }),
  });
  expect(res.status).toBe(201);
  expect(res.headers.get('x-one')).toBe('yes');
  expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  expect(await res.json()).toEqual({ ok: true });
  const request = seen.at(-1)!;
  expect(request.method).toBe('POST');
  expect(request.body).toBe('grant_type=authorization_code&code=a+b%2Bc');
  expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  expect(request.headers['content-length']).toBe(String(request.body.length));
  expect(request.headers.authorization).toBe('Basic eDp5');
});

test('never follows a redirect (openid-client and jose ask for redirect: manual)', async () => {
  const res = await idpFetch(`${server.url}/redirect`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe('/json');
});

test('a 204 has a null body', async () => {
  const res = await idpFetch(`${server.url}/empty`);
  expect(res.status).toBe(204);
  expect(res.body).toBeNull();
});

test('an oversized response, a cut connection and a refused connection reject as fetch does (TypeError)', async () => {
  await expect(idpFetch(`${server.url}/huge`)).rejects.toThrow(TypeError);
  await expect(idpFetch(`${server.url}/cut`)).rejects.toThrow(TypeError);
  await expect(idpFetch('http://127.0.0.1:1/')).rejects.toThrow('fetch failed');
  await expect(idpFetch('ftp://127.0.0.1/')).rejects.toThrow(/unsupported protocol/);
});

test('an aborted signal rejects with its reason, at once', async () => {
  const started = Date.now();
  const err = await idpFetch(`${server.url}/slow`, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
  expect((err as Error).name).toBe('TimeoutError');
  expect(Date.now() - started).toBeLessThan(1000);
  const aborted = AbortSignal.abort(new Error('stop'));
  await expect(idpFetch(`${server.url}/json`, { signal: aborted })).rejects.toThrow('stop');
});

test('its own deadline (timeoutMs) rejects with a TimeoutError like AbortSignal.timeout, and the signal still aborts first', async () => {
  const started = Date.now();
  const err = await idpFetch(`${server.url}/slow`, {}, undefined, 100).catch((e: unknown) => e);
  expect((err as Error).name).toBe('TimeoutError');
  expect(Date.now() - started).toBeLessThan(1000);
  const stopped = await idpFetch(`${server.url}/slow`, { signal: AbortSignal.abort(new Error('stop')) }, undefined, 5000).catch((e: unknown) => e);
  expect((stopped as Error).message).toBe('stop');
  // A fast answer within the deadline is an ordinary response.
  const res = await idpFetch(`${server.url}/json`, { method: 'POST', body: 'x' }, undefined, 5000);
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual({ ok: true });
});
