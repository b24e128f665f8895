/**
 * A small cookie-jar HTTP client that behaves like a browser for redirects and cookies across the app and the IdP
 * (both on 127.0.0.1: browsers share cookies across ports, so the jar ignores the port too). Each Browser is one
 * user agent; create several to model several users.
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
  expires?: number;
  httpOnly: boolean;
  sameSite?: string;
  secure: boolean;
}

export interface Hop {
  url: string;
  status: number;
  location?: string;
  headers: Headers;
  body: string;
}

export class Browser {
  readonly cookies: Cookie[] = [];

  /** Cookies that would be sent to `url`. */
  cookieHeader(url: string): string {
    const { pathname } = new URL(url);
    const now = Date.now();
    return this.cookies
      .filter((c) => (c.expires === undefined || c.expires > now) && (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookie(name: string): Cookie | undefined {
    return this.cookies.find((c) => c.name === name && (c.expires === undefined || c.expires > Date.now()));
  }

  /** Every Set-Cookie header seen, raw (for attribute assertions). */
  readonly setCookieLog: string[] = [];

  private store(setCookies: string[], url: string): void {
    for (const raw of setCookies) {
      this.setCookieLog.push(raw);
      const [pair = '', ...attrs] = raw.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const cookie: Cookie = {
        name: pair.slice(0, eq),
        value: pair.slice(eq + 1),
        path: '/',
        httpOnly: false,
        secure: false,
      };
      let defaultPath = new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      let explicitPath = false;
      for (const attr of attrs) {
        const [k = '', v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path') {
          cookie.path = v || '/';
          explicitPath = true;
        } else if (key === 'expires') cookie.expires = Date.parse(v);
        else if (key === 'max-age') cookie.expires = Date.now() + Number(v) * 1000;
        else if (key === 'httponly') cookie.httpOnly = true;
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'samesite') cookie.sameSite = v;
      }
      if (!explicitPath) cookie.path = defaultPath;
      const i = this.cookies.findIndex((c) => c.name === cookie.name && c.path === cookie.path);
      if (i !== -1) this.cookies.splice(i, 1);
      if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie);
      defaultPath = '';
    }
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; body?: URLSearchParams | string; headers?: Record<string, string> } = {}): Promise<Hop> {
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml', ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    if (init.body instanceof URLSearchParams) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : String(init.body),
      redirect: 'manual',
    });
    this.store(res.headers.getSetCookie(), url);
    const location = res.headers.get('location');
    return {
      url,
      status: res.status,
      ...(location !== null && { location: new URL(location, url).href }),
      headers: res.headers,
      body: await res.text(),
    };
  }

  /** Follows redirects like a browser (303 and 302 on POST become GET). Returns every hop, last one final. */
  async navigate(
    url: string,
    init: { method?: string; body?: URLSearchParams; headers?: Record<string, string>; stopAt?: (url: string) => boolean } = {},
  ): Promise<Hop[]> {
    const hops: Hop[] = [];
    let hop = await this.request(url, init);
    hops.push(hop);
    while (hop.location && hop.status >= 300 && hop.status < 400 && hops.length < 20) {
      if (init.stopAt?.(hop.location)) break;
      hop = await this.request(hop.location, { headers: init.headers ?? {} });
      hops.push(hop);
    }
    return hops;
  }
}

/** Reads a form's action from an HTML page (the IdP's login, consent and logout pages). */
export function formAction(html: string, base: string, match = /<form[^>]*action="([^"]+)"/): string {
  const m = match.exec(html);
  if (!m?.[1]) throw new Error(`no form found in page: ${html.slice(0, 300)}`);
  return new URL(m[1].replace(/&amp;/g, '&'), base).href;
}

/** Hidden inputs of the first form in a page. */
export function hiddenInputs(html: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) params.set(name, value);
  }
  return params;
}
