/**
 * The response idpFetch (http.ts) resolves: the parts of the Fetch standard's Response that openid-client
 * (oauth4webapi) and jose read, over a body that is already in memory.
 *
 * Why not `new Response(buffer)`: undici's Response copies the bytes into a new ReadableStream, and `json()` reads
 * them back out through its stream machinery before parsing; the bench's profile of a login showed that, with the
 * Response construction, as one of the larger parts of the token request's client CPU. Here `json()` is one
 * `JSON.parse` of the bytes received. oauth4webapi accepts any object whose prototype says `Response`
 * (Symbol.toStringTag, its looseInstanceOf); the headers stay a real Headers. What it keeps from the standard:
 * a body can be read once (`bodyUsed`, a TypeError on a second read or a clone after it), `clone()` gives an
 * independent copy, a null-body status has `body === null`, `ok` is 200-299.
 */

/** A fetch Response over an in-memory body. @private */
export class IdpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
  readonly redirected = false;
  readonly type = 'basic';
  #bytes: Buffer | null;
  #used = false;

  constructor(bytes: Buffer | null, init: { status: number; statusText: string; headers: Headers; url: string }) {
    this.#bytes = bytes;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.url = init.url;
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  /** The body as a stream, for the callers that only cancel it (oauth4webapi on an error response). */
  get body(): ReadableStream<Uint8Array> | null {
    const bytes = this.#bytes;
    if (bytes === null) return null;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        controller.close();
      },
    });
  }

  #consume(): Buffer {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes ?? Buffer.alloc(0);
  }

  /** UTF-8 decode as the Fetch standard does it: a leading byte order mark is dropped. */
  #utf8(): string {
    const bytes = this.#consume();
    const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    return (bom ? bytes.subarray(3) : bytes).toString('utf8');
  }

  async text(): Promise<string> {
    return this.#utf8();
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.#utf8());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#consume();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  clone(): IdpResponse {
    if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new IdpResponse(this.#bytes, { status: this.status, statusText: this.statusText, headers: new Headers(this.headers), url: this.url });
  }
}

/** True for a fetch Response, ours or undici's (an openid-client error may carry either as its cause). @private */
export function isFetchResponse(value: unknown): value is Response {
  return value instanceof Response || value instanceof IdpResponse;
}

/** `response` typed as the fetch Response openid-client and jose take from a custom fetch. @private */
export function asFetchResponse(response: IdpResponse): Response {
  return response as unknown as Response;
}
