/**
 * The HTTP client for every call to the identity provider (discovery, token, JWKS, UserInfo): Node's own http and
 * https modules (their global agents keep connections alive), shaped as the `fetch` that openid-client and jose
 * accept as customFetch.
 *
 * Why not the global fetch (undici): for the small JSON exchanges of a login it spends about twice the CPU, on
 * WHATWG streams and on writing headers and body separately. The token request is the one network call of a
 * login, and the benchmark (bench/README.md) showed it as the largest part of a login's CPU above the plain
 * session work. Semantics kept: redirects are never followed (openid-client and jose ask for `redirect: 'manual'`),
 * the AbortSignal is honoured, TLS is verified with Node's defaults. With mutual TLS (idp/mtls.ts) the https
 * requests go through an agent that presents the client certificate. The response is an IdpResponse (response.ts),
 * not undici's Response, which would copy the received bytes through a stream before json() parses them.
 */
import http from 'node:http';
import https from 'node:https';
import { IdpResponse, asFetchResponse } from './response.js';

/** Discovery documents, JWKS and token responses are a few KB; a response near this size is not one of them. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Statuses whose response must not have a body (Fetch standard "null body status"). */
const NULL_BODY = new Set([204, 205, 304]);

function bodyBytes(body: RequestInit['body'], headers: Record<string, string>): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return Buffer.from(body.toString());
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('idpFetch: unsupported request body type');
}

function responseHeaders(incoming: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/**
 * A `fetch` for IdP calls: one request, the whole (bounded) response body read, no redirect following.
 * Rejects like fetch does: with the signal's reason when aborted, with a network error otherwise.
 * `httpsAgent` carries the TLS options of https requests (the client certificate for mTLS). `timeoutMs` is a
 * deadline of its own, rejecting with a `TimeoutError` as `AbortSignal.timeout()` would: one timer instead of a
 * timeout signal combined with the caller's by `AbortSignal.any()`, which cost about 30 µs of CPU per call.
 * @private
 */
export function idpFetch(input: string | URL, init: RequestInit = {}, httpsAgent?: https.Agent, timeoutMs?: number): Promise<Response> {
  const url = new URL(String(input));
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new TypeError(`idpFetch: unsupported protocol ${url.protocol}`));
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const headers: Record<string, string> = {};
  // openid-client passes a Headers already; anything else is normalised through one.
  (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
    headers[name] = value;
  });
  let body: Buffer | undefined;
  try {
    body = bodyBytes(init.body, headers);
  } catch (err) {
    return Promise.reject(err);
  }
  if (body) headers['content-length'] = String(body.length);

  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown, response?: Response): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (response) resolve(response);
      else reject(err);
    };
    const agent = transport === https && httpsAgent ? { agent: httpsAgent } : {};
    const req = transport.request(url, { method: init.method ?? 'GET', headers, ...agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`the response from ${url.host} exceeds ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (err) => finish(new TypeError('fetch failed', { cause: err })));
      res.on('close', () => {
        if (!res.complete) finish(new TypeError('fetch failed', { cause: new Error(`the connection to ${url.host} closed mid-response`) }));
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          finish(new TypeError(`idpFetch: unexpected HTTP status ${status}`));
          return;
        }
        try {
          const payload = NULL_BODY.has(status) ? null : Buffer.concat(chunks);
          const init = { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res.headers), url: url.href };
          finish(undefined, asFetchResponse(new IdpResponse(payload, init)));
        } catch (err) {
          finish(err);
        }
      });
    });
    const onAbort = (): void => {
      req.destroy();
      finish(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        req.destroy();
        finish(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      }, timeoutMs);
    }
    req.on('error', (err) => finish(new TypeError('fetch failed', { cause: err })));
    req.end(body);
  });
}
